#include "tests/support/mqtt_client.h"

#include <mqtt_protocol.h>
#include <openssl/ssl.h>

#include <mutex>
#include <utility>

namespace certguard::testing {
namespace {

constexpr size_t kMaxUnclaimedPublishAcks = 4096;
constexpr size_t kMaxLibraryLogLines = 200;

void InitLibraryOnce() {
  static std::once_flag once;
  // Never cleaned up: other clients may live until static destruction.
  std::call_once(once, [] { mosquitto_lib_init(); });
}

}  // namespace

MqttClient::MqttClient(MqttClientOptions options) : options_(std::move(options)) {
  InitLibraryOnce();
  mosq_ = mosquitto_new(options_.client_id.empty() ? nullptr : options_.client_id.c_str(),
                        options_.clean_session, this);
  if (mosq_ == nullptr) {
    last_error_ = "mosquitto_new failed (a persistent session needs a client id)";
    return;
  }
  mosquitto_connect_v5_callback_set(mosq_, &MqttClient::OnConnect);
  mosquitto_disconnect_v5_callback_set(mosq_, &MqttClient::OnDisconnect);
  mosquitto_publish_v5_callback_set(mosq_, &MqttClient::OnPublish);
  mosquitto_message_v5_callback_set(mosq_, &MqttClient::OnMessage);
  mosquitto_subscribe_v5_callback_set(mosq_, &MqttClient::OnSubscribe);
  mosquitto_unsubscribe_v5_callback_set(mosq_, &MqttClient::OnUnsubscribe);
  if (options_.capture_library_log) mosquitto_log_callback_set(mosq_, &MqttClient::OnLog);

  int rc =
      mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                           options_.protocol_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  if (rc == MOSQ_ERR_SUCCESS) {
    rc = mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, options_.tcp_nodelay ? 1 : 0);
  }
  // Requests from the test's thread are then queued for the network thread to send.
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_threaded_set(mosq_, true);
  if (rc == MOSQ_ERR_SUCCESS && options_.username) {
    rc = mosquitto_username_pw_set(mosq_, options_.username->c_str(),
                                   options_.password ? options_.password->c_str() : nullptr);
  }
  if (rc == MOSQ_ERR_SUCCESS && options_.will) {
    const MqttWill& will = *options_.will;
    rc = mosquitto_will_set(mosq_, will.topic.c_str(), static_cast<int>(will.payload.size()),
                            will.payload.data(), will.qos, will.retain);
  }
  if (rc == MOSQ_ERR_SUCCESS && !options_.ca_file.empty() && options_.max_tls12) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr || SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1) {
      rc = MOSQ_ERR_TLS;
    } else {
      // libmosquitto takes its own reference and still applies the CA, key and verify options.
      rc = mosquitto_void_option(mosq_, MOSQ_OPT_SSL_CTX, ctx);
      if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_int_option(mosq_, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 1);
    }
    SSL_CTX_free(ctx);
  }
  if (rc == MOSQ_ERR_SUCCESS && !options_.ca_file.empty()) {
    rc =
        mosquitto_tls_set(mosq_, options_.ca_file.c_str(), nullptr,
                          options_.cert_file.empty() ? nullptr : options_.cert_file.c_str(),
                          options_.key_file.empty() ? nullptr : options_.key_file.c_str(), nullptr);
    if (rc == MOSQ_ERR_SUCCESS) {
      rc = mosquitto_tls_opts_set(
          mosq_, options_.verify_peer ? 1 : 0,
          options_.tls_version.empty() ? nullptr : options_.tls_version.c_str(), nullptr);
    }
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(mosq_, !options_.verify_hostname);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    last_error_ = std::string("client setup failed: ") + mosquitto_strerror(rc);
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }
}

MqttClient::~MqttClient() {
  Disconnect();
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
}

int MqttClient::Fail(int mosquitto_rc, const std::string& what) {
  std::lock_guard lock(mu_);
  last_error_ = what + ": " + mosquitto_strerror(mosquitto_rc);
  if (mosquitto_rc == MOSQ_ERR_NO_CONN || mosquitto_rc == MOSQ_ERR_CONN_LOST ||
      mosquitto_rc == MOSQ_ERR_ERRNO || mosquitto_rc == MOSQ_ERR_TLS) {
    return kConnectionLost;
  }
  return kClientError;
}

int MqttClient::Connect(std::chrono::milliseconds timeout) {
  if (mosq_ == nullptr) return kClientError;
  // A new session starts from a stopped network thread, whatever the last one left behind.
  StopLoop(options_.timeout);
  {
    std::lock_guard lock(mu_);
    connected_ = false;
    session_over_ = false;
    stop_requested_ = false;
    connack_.reset();
    disconnect_reason_ = -1;
    last_error_.clear();
    publish_acks_.clear();
    publish_ack_order_.clear();
    subscribe_acks_.clear();
    unsubscribe_acks_.clear();
  }
  loop_thread_ = std::thread([this] { RunSession(); });

  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, timeout, [&] { return connack_.has_value() || session_over_; })) {
    return connack_ ? *connack_ : kConnectionLost;
  }
  lock.unlock();
  // A stalled handshake cannot send DISCONNECT: give the thread only a short grace.
  StopLoop(std::chrono::milliseconds(200));
  lock.lock();
  last_error_ = "no CONNACK within " + std::to_string(timeout.count()) + " ms";
  return kTimedOut;
}

void MqttClient::RunSession() {
  // TCP connects synchronously (on loopback that cannot hang, and a refused port fails here at
  // once); the TLS handshake and CONNECT then proceed inside mosquitto_loop().
  int rc;
  if (options_.protocol_version == 5 && options_.session_expiry_seconds != 0) {
    mosquitto_property* properties = nullptr;
    rc = mosquitto_property_add_int32(&properties, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                      options_.session_expiry_seconds);
    if (rc == MOSQ_ERR_SUCCESS) {
      rc = mosquitto_connect_bind_v5(mosq_, options_.host.c_str(), options_.port,
                                     options_.keepalive_seconds, nullptr, properties);
    }
    mosquitto_property_free_all(&properties);
  } else {
    rc = mosquitto_connect_bind(mosq_, options_.host.c_str(), options_.port,
                                options_.keepalive_seconds, nullptr);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    EndSession(rc, std::string("connect: ") + mosquitto_strerror(rc));
    return;
  }
  while (true) {
    rc = mosquitto_loop(mosq_, 50, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      // A failed TLS handshake lands here without any callback; a closed connection has already
      // been reported by OnDisconnect, which EndSession leaves in place.
      EndSession(rc, std::string("network loop: ") + mosquitto_strerror(rc));
      return;
    }
    std::lock_guard lock(mu_);
    if (stop_requested_ && std::chrono::steady_clock::now() >= stop_deadline_) {
      // The DISCONNECT queued by StopLoop could not be sent in time; the socket is closed by
      // the next connect or by mosquitto_destroy().
      connected_ = false;
      session_over_ = true;
      cv_.notify_all();
      return;
    }
  }
}

void MqttClient::EndSession(int mosquitto_rc, const std::string& why) {
  std::lock_guard lock(mu_);
  connected_ = false;
  if (!session_over_) {
    session_over_ = true;
    disconnect_reason_ = mosquitto_rc;
    if (last_error_.empty()) last_error_ = why;
  }
  cv_.notify_all();
}

void MqttClient::Disconnect() { StopLoop(options_.timeout); }

void MqttClient::StopLoop(std::chrono::milliseconds grace) {
  if (!loop_thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_requested_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + grace;
  }
  // Queues a DISCONNECT if the socket is up and wakes the loop; once it is written libmosquitto
  // closes the socket and mosquitto_loop() returns MOSQ_ERR_NO_CONN, ending the thread.
  mosquitto_disconnect(mosq_);
  loop_thread_.join();
  std::lock_guard lock(mu_);
  connected_ = false;
  session_over_ = true;
  cv_.notify_all();
}

int MqttClient::Publish(const std::string& topic, const std::string& payload, int qos,
                        bool retain) {
  return Publish(topic, payload, qos, retain, options_.timeout);
}

int MqttClient::Publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                        std::chrono::milliseconds timeout) {
  int mid = PublishAsync(topic, payload, qos, retain);
  if (mid < 0) return mid;
  return WaitForPublish(mid, timeout);
}

int MqttClient::PublishAsync(const std::string& topic, const std::string& payload, int qos,
                             bool retain) {
  if (mosq_ == nullptr) return kClientError;
  if (!IsConnected()) return Fail(MOSQ_ERR_NO_CONN, "publish");
  int mid = 0;
  int rc = mosquitto_publish_v5(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                payload.data(), qos, retain, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return Fail(rc, "publish");
  return mid;
}

int MqttClient::WaitForPublish(int mid, std::chrono::milliseconds timeout) {
  return WaitForAck(publish_acks_, mid, timeout);
}

int MqttClient::Subscribe(const std::string& filter, int qos, int options) {
  if (mosq_ == nullptr) return kClientError;
  if (!IsConnected()) return Fail(MOSQ_ERR_NO_CONN, "subscribe");
  int mid = 0;
  int rc = mosquitto_subscribe_v5(mosq_, &mid, filter.c_str(), qos,
                                  options_.protocol_version == 5 ? options : 0, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return Fail(rc, "subscribe");
  return WaitForAck(subscribe_acks_, mid, options_.timeout);
}

int MqttClient::Unsubscribe(const std::string& filter) {
  if (mosq_ == nullptr) return kClientError;
  if (!IsConnected()) return Fail(MOSQ_ERR_NO_CONN, "unsubscribe");
  int mid = 0;
  int rc = mosquitto_unsubscribe_v5(mosq_, &mid, filter.c_str(), nullptr);
  if (rc != MOSQ_ERR_SUCCESS) return Fail(rc, "unsubscribe");
  return WaitForAck(unsubscribe_acks_, mid, options_.timeout);
}

int MqttClient::WaitForAck(std::map<int, int>& acks, int mid, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  // The ack may already be there: the network thread can beat us back from the request.
  bool done = cv_.wait_for(lock, timeout, [&] { return acks.contains(mid) || session_over_; });
  auto it = acks.find(mid);
  if (it != acks.end()) {
    int code = it->second;
    acks.erase(it);
    return code;
  }
  if (done) {
    last_error_ = "connection closed before the ack for message " + std::to_string(mid);
    return kConnectionLost;
  }
  last_error_ = "no ack for message " + std::to_string(mid) + " within " +
                std::to_string(timeout.count()) + " ms";
  return kTimedOut;
}

bool MqttClient::WaitForMessages(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return received_count_ >= count; });
}

std::vector<MqttMessage> MqttClient::Received() const {
  std::lock_guard lock(mu_);
  return received_;
}

size_t MqttClient::ReceivedCount() const {
  std::lock_guard lock(mu_);
  return received_count_;
}

void MqttClient::ClearReceived() {
  std::lock_guard lock(mu_);
  received_.clear();
  received_count_ = 0;
}

bool MqttClient::WaitForDisconnect(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return session_over_; });
}

int MqttClient::disconnect_reason() const {
  std::lock_guard lock(mu_);
  return disconnect_reason_;
}

bool MqttClient::IsConnected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

std::string MqttClient::LastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

std::vector<std::string> MqttClient::LibraryLog() const {
  std::lock_guard lock(mu_);
  return {library_log_.begin(), library_log_.end()};
}

// Callbacks run on libmosquitto's network thread with its callback mutex held.

void MqttClient::OnConnect(mosquitto*, void* self, int rc, int, const mosquitto_property*) {
  auto* client = static_cast<MqttClient*>(self);
  std::lock_guard lock(client->mu_);
  client->connack_ = rc;
  client->connected_ = rc == 0;
  if (rc != 0) client->last_error_ = std::string("CONNACK refused: ") + mosquitto_reason_string(rc);
  client->cv_.notify_all();
}

void MqttClient::OnDisconnect(mosquitto*, void* self, int rc, const mosquitto_property*) {
  auto* client = static_cast<MqttClient*>(self);
  {
    std::lock_guard lock(client->mu_);
    client->connected_ = false;
    client->session_over_ = true;
    client->disconnect_reason_ = rc;
    const bool refused_by_connack = client->connack_.has_value() && *client->connack_ != 0;
    if (rc != 0 && !refused_by_connack) {
      client->last_error_ =
          "connection closed: " +
          std::string(rc >= 0x80 ? mosquitto_reason_string(rc) : mosquitto_strerror(rc));
    }
    client->cv_.notify_all();
  }
}

void MqttClient::OnPublish(mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
  auto* client = static_cast<MqttClient*>(self);
  std::lock_guard lock(client->mu_);
  client->publish_acks_[mid] = reason;
  client->publish_ack_order_.push_back(mid);
  while (client->publish_ack_order_.size() > kMaxUnclaimedPublishAcks) {
    // Ids wrap at 65535: dropping old unclaimed acks keeps a reused id from matching a stale one.
    client->publish_acks_.erase(client->publish_ack_order_.front());
    client->publish_ack_order_.pop_front();
  }
  client->cv_.notify_all();
}

void MqttClient::OnMessage(mosquitto*, void* self, const mosquitto_message* msg,
                           const mosquitto_property*) {
  auto* client = static_cast<MqttClient*>(self);
  if (!client->options_.record_messages) {
    std::lock_guard lock(client->mu_);
    ++client->received_count_;
    client->cv_.notify_all();
    return;
  }
  MqttMessage m;
  m.topic = msg->topic != nullptr ? msg->topic : "";
  if (msg->payload != nullptr && msg->payloadlen > 0) {
    m.payload.assign(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen));
  }
  m.qos = msg->qos;
  m.retain = msg->retain;
  std::lock_guard lock(client->mu_);
  client->received_.push_back(std::move(m));
  ++client->received_count_;
  client->cv_.notify_all();
}

void MqttClient::OnSubscribe(mosquitto*, void* self, int mid, int count, const int* granted,
                             const mosquitto_property*) {
  auto* client = static_cast<MqttClient*>(self);
  std::lock_guard lock(client->mu_);
  client->subscribe_acks_[mid] = count > 0 && granted != nullptr ? granted[0] : 0x80;
  client->cv_.notify_all();
}

void MqttClient::OnUnsubscribe(mosquitto*, void* self, int mid, const mosquitto_property*) {
  auto* client = static_cast<MqttClient*>(self);
  std::lock_guard lock(client->mu_);
  client->unsubscribe_acks_[mid] = 0;
  client->cv_.notify_all();
}

void MqttClient::OnLog(mosquitto*, void* self, int, const char* line) {
  auto* client = static_cast<MqttClient*>(self);
  std::lock_guard lock(client->mu_);
  client->library_log_.emplace_back(line != nullptr ? line : "");
  if (client->library_log_.size() > kMaxLibraryLogLines) client->library_log_.pop_front();
}

}  // namespace certguard::testing
