#include "tests/soak/soak_mqtt.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstring>

#include "tests/support/mqtt_packets.h"

namespace certguard::soak {
namespace {

using testing::AppendString;
using testing::AppendU16;
using testing::Framed;

uint16_t U16At(std::string_view bytes, size_t at) {
  return static_cast<uint16_t>((static_cast<unsigned char>(bytes[at]) << 8) |
                               static_cast<unsigned char>(bytes[at + 1]));
}

// A whole packet at the front of `buffer`: its total size, 0 when more bytes are needed, or
// SIZE_MAX when the length field is malformed.
size_t WholePacket(std::string_view buffer, size_t* header_size, size_t* body_size) {
  size_t length = 0;
  size_t multiplier = 1;
  for (size_t i = 1; i < 5; ++i) {
    if (i >= buffer.size()) return 0;
    const unsigned char byte = static_cast<unsigned char>(buffer[i]);
    length += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) == 0) {
      *header_size = i + 1;
      *body_size = length;
      return buffer.size() >= i + 1 + length ? i + 1 + length : 0;
    }
  }
  return SIZE_MAX;
}

std::string SslFailure(SSL* ssl, int rc, const char* what) {
  const int error = SSL_get_error(ssl, rc);
  std::string out = std::string(what) + ": SSL error " + std::to_string(error);
  if (error == SSL_ERROR_ZERO_RETURN) out = std::string(what) + ": closed by the broker";
  if (error == SSL_ERROR_SYSCALL) {
    out += errno != 0 ? std::string(" (") + std::strerror(errno) + ")" : " (EOF)";
  }
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    out += std::string(" ") + buffer;
  }
  return out;
}

}  // namespace

std::string PublishPacket(std::string_view topic, std::string_view payload, int qos,
                          uint16_t packet_id) {
  std::string body;
  AppendString(body, topic);
  if (qos > 0) AppendU16(body, packet_id);
  body.append(payload);
  return Framed(static_cast<uint8_t>(0x30 | (qos << 1)), body);
}

std::string SubscribePacket(uint16_t packet_id, std::string_view filter, int qos) {
  std::string body;
  AppendU16(body, packet_id);
  AppendString(body, filter);
  body.push_back(static_cast<char>(qos));
  return Framed(0x82, body);
}

std::string UnsubscribePacket(uint16_t packet_id, std::string_view filter) {
  std::string body;
  AppendU16(body, packet_id);
  AppendString(body, filter);
  return Framed(0xa2, body);
}

std::string PubackPacket(uint16_t packet_id) {
  std::string body;
  AppendU16(body, packet_id);
  return Framed(0x40, body);
}

bool DecodePublish(const Packet& packet, Publish* out) {
  if (packet.type() != 3 || packet.body.size() < 2) return false;
  const std::string_view body = packet.body;
  const size_t topic_length = U16At(body, 0);
  size_t at = 2 + topic_length;
  if (at > body.size()) return false;
  out->topic = body.substr(2, topic_length);
  out->qos = (packet.type_and_flags >> 1) & 3;
  if (out->qos > 0) {
    if (at + 2 > body.size()) return false;
    out->packet_id = U16At(body, at);
    at += 2;
  }
  out->payload = body.substr(at);
  return true;
}

uint16_t AckedId(const Packet& packet) {
  return packet.body.size() >= 2 ? U16At(packet.body, 0) : 0;
}

bool WriteBlocking(const bench::MqttTlsConnection& connection, const std::string& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const int n =
        SSL_write(connection.ssl, bytes.data() + written, static_cast<int>(bytes.size() - written));
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

bool ReadPacketBlocking(const bench::MqttTlsConnection& connection, Packet* packet) {
  std::string buffer;
  size_t header_size = 0, body_size = 0;
  while (true) {
    const size_t whole = WholePacket(buffer, &header_size, &body_size);
    if (whole == SIZE_MAX) return false;
    if (whole > 0) break;
    char byte;
    if (SSL_read(connection.ssl, &byte, 1) != 1) return false;
    buffer.push_back(byte);
  }
  packet->type_and_flags = static_cast<uint8_t>(buffer[0]);
  packet->body = buffer.substr(header_size, body_size);
  return true;
}

Connection::Connection(bench::MqttTlsConnection connection, std::string name)
    : connection_(connection), name_(std::move(name)) {
  // Partial writes, and retries from a buffer that has moved since (out_ may grow meanwhile).
  SSL_set_mode(connection_.ssl,
               SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

Connection::~Connection() {
  if (connection_.ssl != nullptr) SSL_free(connection_.ssl);
  if (connection_.fd >= 0) ::close(connection_.fd);
}

void Connection::Fail(const std::string& why) {
  if (failure_.empty()) failure_ = why;
}

bool Connection::ReadAvailable() {
  if (failed()) return false;
  char buffer[16384];
  while (true) {
    ERR_clear_error();
    errno = 0;
    const int n = SSL_read(connection_.ssl, buffer, sizeof buffer);
    if (n > 0) {
      in_.append(buffer, static_cast<size_t>(n));
      continue;
    }
    const int error = SSL_get_error(connection_.ssl, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
    Fail(SslFailure(connection_.ssl, n, "read"));
    return false;
  }
  size_t consumed = 0;
  while (true) {
    size_t header_size = 0, body_size = 0;
    const std::string_view rest = std::string_view(in_).substr(consumed);
    const size_t whole = WholePacket(rest, &header_size, &body_size);
    if (whole == SIZE_MAX) {
      Fail("malformed packet length from the broker");
      return false;
    }
    if (whole == 0) break;
    Packet packet;
    packet.type_and_flags = static_cast<uint8_t>(rest[0]);
    packet.body.assign(rest.substr(header_size, body_size));
    consumed += whole;
    OnPacket(packet);
  }
  in_.erase(0, consumed);
  return true;
}

bool Connection::Flush() {
  if (failed()) return false;
  want_write_ = false;
  while (!out_.empty()) {
    const size_t length = std::max(out_attempt_, std::min<size_t>(out_.size(), 16384));
    ERR_clear_error();
    errno = 0;
    const int n = SSL_write(connection_.ssl, out_.data(), static_cast<int>(length));
    if (n > 0) {
      out_.erase(0, static_cast<size_t>(n));
      out_attempt_ = 0;
      continue;
    }
    const int error = SSL_get_error(connection_.ssl, n);
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
      out_attempt_ = length;
      want_write_ = error == SSL_ERROR_WANT_WRITE;
      return true;
    }
    Fail(SslFailure(connection_.ssl, n, "write"));
    return false;
  }
  return true;
}

EventLoop::EventLoop() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {}

EventLoop::~EventLoop() {
  Stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void EventLoop::Add(Connection* connection) {
  const int fd = connection->connection_.fd;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = connection;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  connections_.push_back(connection);
}

void EventLoop::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void EventLoop::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EventLoop::Update(Connection* connection) {
  if (connection->failed()) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection->connection_.fd, nullptr);
    return;
  }
  connection->Flush();
  if (connection->failed()) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection->connection_.fd, nullptr);
    return;
  }
  // EPOLLOUT only while the socket refuses bytes: armed on a writable socket it fires at once.
  if (connection->want_write_ != connection->epollout_armed_) {
    epoll_event event{};
    event.events = connection->want_write_ ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    event.data.ptr = connection;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection->connection_.fd, &event);
    connection->epollout_armed_ = connection->want_write_;
  }
}

void EventLoop::Run() {
  std::vector<epoll_event> events(512);
  while (!stop_.load()) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 10);
    for (int i = 0; i < n; ++i) {
      auto* connection = static_cast<Connection*>(events[i].data.ptr);
      if (connection->failed()) continue;
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) connection->ReadAvailable();
      if (connection->failed()) Update(connection);
    }
    const auto now = std::chrono::steady_clock::now();
    for (Connection* connection : connections_) {
      if (connection->failed()) continue;
      connection->OnTick(now);
      // Cheap when nothing is queued: only connections with output touch epoll.
      if (!connection->out_.empty() || connection->epollout_armed_) Update(connection);
    }
  }
}

}  // namespace certguard::soak
