#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/support/raw_mqtt.h"

// PUBLISH, SUBSCRIBE and UNSUBSCRIBE on top of bench/support/raw_mqtt's TLS connections, so that
// one soak process can drive thousands of MQTT 3.1.1 clients from a couple of threads (the
// harness's MqttClient needs a thread per client). raw_mqtt does the TLS handshake and CONNECT;
// from then on a connection is non-blocking and belongs to one EventLoop thread.
namespace certguard::soak {

// An MQTT packet as received: the first byte, and what follows the remaining length.
struct Packet {
  uint8_t type_and_flags = 0;
  std::string body;
  int type() const { return type_and_flags >> 4; }
};

// Packet encoders (MQTT 3.1.1).
std::string PublishPacket(std::string_view topic, std::string_view payload, int qos,
                          uint16_t packet_id);
std::string SubscribePacket(uint16_t packet_id, std::string_view filter, int qos);
std::string UnsubscribePacket(uint16_t packet_id, std::string_view filter);
std::string PubackPacket(uint16_t packet_id);

// A received PUBLISH, decoded.
struct Publish {
  std::string_view topic;
  std::string_view payload;
  int qos = 0;
  uint16_t packet_id = 0;
};
bool DecodePublish(const Packet& packet, Publish* out);
// The packet id that starts PUBACK, SUBACK and UNSUBACK bodies.
uint16_t AckedId(const Packet& packet);

// Blocking helpers for the set-up phase, while the socket still has raw_mqtt's timeouts:
// sends `bytes` and reads one packet. False when the connection failed.
bool WriteBlocking(const bench::MqttTlsConnection& connection, const std::string& bytes);
bool ReadPacketBlocking(const bench::MqttTlsConnection& connection, Packet* packet);

// One connection driven by an EventLoop. Subclasses say what to do with each packet and with
// time passing; all calls come from the loop's thread.
class Connection {
 public:
  explicit Connection(bench::MqttTlsConnection connection, std::string name);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& name() const { return name_; }
  // Empty while the connection is up; why it failed otherwise.
  const std::string& failure() const { return failure_; }
  bool failed() const { return !failure_.empty(); }

  // Queues bytes for sending; the loop writes them when the socket takes them.
  void Send(const std::string& bytes) { out_ += bytes; }
  uint16_t NextPacketId() {
    if (++packet_id_ == 0) packet_id_ = 1;
    return packet_id_;
  }

 protected:
  virtual void OnPacket(const Packet& packet) = 0;
  // Called on every loop pass (about every 10 ms, and after each batch of events).
  virtual void OnTick(std::chrono::steady_clock::time_point now) = 0;

 private:
  friend class EventLoop;
  // Reads what TLS has, hands over every whole packet. False once the connection failed.
  bool ReadAvailable();
  // Writes what the socket takes. False once the connection failed.
  bool Flush();
  void Fail(const std::string& why);

  bench::MqttTlsConnection connection_;
  std::string name_;
  std::string in_;
  std::string out_;
  size_t out_attempt_ = 0;       // length of an SSL_write to be retried (OpenSSL wants it again)
  bool want_write_ = false;      // the last write stopped because the socket was full
  bool epollout_armed_ = false;  // the loop waits for the socket to take bytes again
  uint16_t packet_id_ = 0;
  std::string failure_;
};

// A thread with an epoll set of connections.
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Before Start() only. Makes the socket non-blocking.
  void Add(Connection* connection);
  void Start();
  // Stops the thread and waits for it; connections stay open.
  void Stop();

 private:
  void Run();
  void Update(Connection* connection);

  int epoll_fd_ = -1;
  std::vector<Connection*> connections_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace certguard::soak
