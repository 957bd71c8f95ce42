#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <mosquitto.h>

// A real MQTT client (libmosquitto, threaded network loop) with synchronous, time-limited helpers,
// for integration tests, soak tests and benchmarks.
namespace certguard::testing {

struct MqttMessage {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

struct MqttWill {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

struct MqttClientOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  // Empty: libmosquitto makes up a random id (needs clean_session).
  std::string client_id;
  bool clean_session = true;
  int protocol_version = 5;  // 5 (MQTT v5) or 4 (MQTT 3.1.1)
  // MQTT v5 only: the Session Expiry Interval sent with CONNECT (0: not sent). A v5 broker keeps
  // a clean_session=false session after the connection ends only when this is non-zero.
  uint32_t session_expiry_seconds = 0;
  int keepalive_seconds = 30;

  // TLS is used when ca_file is set. cert_file/key_file: the client certificate, or empty for
  // none.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // libmosquitto's minimum TLS version, e.g. "tlsv1.3"; empty: its default (TLS 1.2 or newer).
  std::string tls_version;
  // Caps the handshake at TLS 1.2 (libmosquitto has no option for a maximum), for tests of
  // refusals that surface during the handshake rather than after it as with TLS 1.3.
  bool max_tls12 = false;
  bool verify_peer = true;
  bool verify_hostname = true;

  std::optional<std::string> username;
  std::optional<std::string> password;  // only sent with a username
  std::optional<MqttWill> will;
  bool tcp_nodelay = true;

  // Soak tests and benchmarks turn these off: keeping every message (Received()) and every
  // libmosquitto log line (one per packet) costs memory and time at high rates. Counting stays.
  bool record_messages = true;
  bool capture_library_log = true;

  // Default for every wait below that is not given a timeout.
  std::chrono::milliseconds timeout{5000};
};

// One MQTT connection. Not copyable; all methods may be called from any thread except the
// destructor, which must not run concurrently with other calls.
//
// Results: every synchronous helper returns a value >= 0 when the broker answered (a CONNACK,
// PUBACK/PUBREC, SUBACK or UNSUBACK code) and one of the negative constants below when it did
// not. Each session is one connection: when the broker drops it the client does *not*
// reconnect (a kicked client must stay kicked); call Connect() again to start a new one.
//
// The network thread is our own loop around mosquitto_loop(), not mosquitto_loop_start():
// libmosquitto 2.0.11's loop_forever() ends on a failed TLS handshake (no certificate, unknown
// CA, untrusted server) without calling the disconnect callback, and on other failures sleeps
// and reconnects, so a refused client would look like a client that is still connecting.
class MqttClient {
 public:
  // No CONNACK or ack came back because the connection failed or was closed: refused TCP,
  // a TLS handshake the broker rejected (no certificate, unknown CA, ...), a dropped session.
  static constexpr int kConnectionLost = -1;
  // Nothing happened within the timeout; the client gave up (for Connect(): and disconnected).
  static constexpr int kTimedOut = -2;
  // libmosquitto refused the request (bad option, unreadable key file, invalid topic...);
  // LastError() says why.
  static constexpr int kClientError = -3;

  explicit MqttClient(MqttClientOptions options);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Connects and waits for the CONNACK. Returns its code: 0 accepted; MQTT 3.1.1 return codes
  // 1-5 or MQTT v5 reason codes >= 0x80 (0x86 bad user name or password, 0x87 not authorized,
  // ...) when refused; or kConnectionLost / kTimedOut / kClientError.
  int Connect() { return Connect(options_.timeout); }
  int Connect(std::chrono::milliseconds timeout);

  // Sends DISCONNECT (if connected) and stops the network thread. Safe to call repeatedly.
  void Disconnect();

  // Publishes and waits until it is done: QoS 0 once written to the socket, QoS 1 for the
  // PUBACK, QoS 2 for the PUBCOMP (or a failing PUBREC). Returns the MQTT v5 reason code
  // (0 success, 0x10 no matching subscribers, 0x87 not authorized, ...; always 0 on 3.1.1) or a
  // negative constant.
  int Publish(const std::string& topic, const std::string& payload, int qos = 0,
              bool retain = false);
  int Publish(const std::string& topic, const std::string& payload, int qos, bool retain,
              std::chrono::milliseconds timeout);
  // For throughput: returns the message id (> 0) without waiting, or a negative constant.
  // Completions of the most recent few thousand ids can be awaited with WaitForPublish().
  int PublishAsync(const std::string& topic, const std::string& payload, int qos = 0,
                   bool retain = false);
  int WaitForPublish(int mid, std::chrono::milliseconds timeout);

  // Returns the granted QoS (0-2) or the SUBACK failure code (0x80; on v5 also 0x87 not
  // authorized, 0x8F topic filter invalid, ...), or a negative constant. `options` are v5
  // subscription options (MQTT_SUB_OPT_NO_LOCAL, ...), ignored on 3.1.1.
  int Subscribe(const std::string& filter, int qos = 0, int options = 0);
  // Returns 0 when the UNSUBACK arrived (libmosquitto 2.0 does not pass its reason codes on),
  // or a negative constant.
  int Unsubscribe(const std::string& filter);

  // True once at least `count` messages have arrived in total (see ClearReceived()).
  bool WaitForMessages(size_t count) { return WaitForMessages(count, options_.timeout); }
  bool WaitForMessages(size_t count, std::chrono::milliseconds timeout);
  // The messages received so far, in arrival order (empty without record_messages).
  std::vector<MqttMessage> Received() const;
  size_t ReceivedCount() const;
  // Forgets the messages received so far and restarts the count.
  void ClearReceived();

  // True once the connection of the current session is gone, for whatever reason.
  bool WaitForDisconnect() { return WaitForDisconnect(options_.timeout); }
  bool WaitForDisconnect(std::chrono::milliseconds timeout);
  // Why the last session ended: >= 0x80 is the reason code of a DISCONNECT the broker sent
  // (MQTT v5, e.g. 0x8E session taken over); 0 a clean disconnect by this client; otherwise a
  // libmosquitto error (MOSQ_ERR_CONN_LOST 7 when the broker just closed the socket, ...).
  // -1 while connected or before the first session.
  int disconnect_reason() const;

  bool IsConnected() const;
  const MqttClientOptions& options() const { return options_; }

  // The last error of a libmosquitto call or the last connection failure, for messages.
  std::string LastError() const;
  // libmosquitto's own log lines (OpenSSL errors on a refused handshake show up here).
  std::vector<std::string> LibraryLog() const;

 private:
  static void OnConnect(mosquitto* mosq, void* self, int rc, int flags,
                        const mosquitto_property* props);
  static void OnDisconnect(mosquitto* mosq, void* self, int rc, const mosquitto_property* props);
  static void OnPublish(mosquitto* mosq, void* self, int mid, int reason,
                        const mosquitto_property* props);
  static void OnMessage(mosquitto* mosq, void* self, const mosquitto_message* msg,
                        const mosquitto_property* props);
  static void OnSubscribe(mosquitto* mosq, void* self, int mid, int count, const int* granted,
                          const mosquitto_property* props);
  static void OnUnsubscribe(mosquitto* mosq, void* self, int mid, const mosquitto_property* props);
  static void OnLog(mosquitto* mosq, void* self, int level, const char* line);

  int Fail(int mosquitto_rc, const std::string& what);
  // The network thread: connects, then runs mosquitto_loop() until the connection ends or a
  // stop is requested.
  void RunSession();
  void EndSession(int mosquitto_rc, const std::string& why);
  void StopLoop(std::chrono::milliseconds grace);
  // Waits for the ack with id `mid` in `acks`; erases and returns it.
  int WaitForAck(std::map<int, int>& acks, int mid, std::chrono::milliseconds timeout);

  MqttClientOptions options_;
  mosquitto* mosq_ = nullptr;
  std::thread loop_thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false;
  bool session_over_ = false;  // the current session's connection has ended
  bool stop_requested_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  std::optional<int> connack_;
  int disconnect_reason_ = -1;
  std::map<int, int> publish_acks_;
  std::deque<int> publish_ack_order_;  // bounds publish_acks_ when nobody waits for them
  std::map<int, int> subscribe_acks_;
  std::map<int, int> unsubscribe_acks_;
  std::vector<MqttMessage> received_;
  size_t received_count_ = 0;
  std::string last_error_;
  std::deque<std::string> library_log_;
};

}  // namespace certguard::testing
