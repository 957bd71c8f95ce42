#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// A minimal MQTT 3.1.1 client over TLS on raw OpenSSL, for what libmosquitto's
// one-thread-per-client model cannot do cheaply: thousands of idle connections (memory), and
// connect/disconnect loops where the client's own set-up should cost as little as possible.
// Blocking sockets with a receive/send timeout, so every call is bounded in time.
namespace certguard::bench {

// A client certificate and key, parsed once, used for any number of connections.
class ClientIdentity {
 public:
  ClientIdentity(std::string client_id, const std::string& cert_pem, const std::string& key_pem);
  const std::string& client_id() const { return client_id_; }
  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  std::string client_id_;
  std::shared_ptr<X509> cert_;
  std::shared_ptr<EVP_PKEY> key_;
};

// The TLS client side shared by every connection: trusts `ca_path`, verifies the server's chain.
class TlsClientContext {
 public:
  explicit TlsClientContext(const std::string& ca_path);
  SSL_CTX* get() const { return ctx_.get(); }

 private:
  std::shared_ptr<SSL_CTX> ctx_;
};

struct MqttTlsConnection {
  int fd = -1;
  SSL* ssl = nullptr;
};

// TCP connect to 127.0.0.1:port (TCP_NODELAY), full TLS handshake (no session resumption),
// CONNECT (clean session, keepalive 65535 s: the broker will not drop it for idleness) and wait
// for the CONNACK. Returns the CONNACK return code (0 accepted), or -1 with `error` set when
// the connection failed before one arrived (the connection is then closed).
int MqttTlsConnect(const TlsClientContext& tls, const ClientIdentity& identity, int port,
                   MqttTlsConnection* connection, std::string* error,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));
// Sends DISCONNECT and close_notify, then closes the socket.
void MqttTlsDisconnect(MqttTlsConnection* connection);
// Frees the TLS state but keeps the socket open and silent: the broker still holds a connected
// client, and this process keeps only a file descriptor.
void MqttTlsKeepIdle(MqttTlsConnection* connection);

// Many idle connections, opened from a few threads.
class IdleConnections {
 public:
  IdleConnections() = default;
  ~IdleConnections() { CloseAll(); }
  IdleConnections(const IdleConnections&) = delete;
  IdleConnections& operator=(const IdleConnections&) = delete;

  // Opens one connection per identity; stops at the first failure. Returns true when all are
  // open; `error` says what failed otherwise.
  bool Open(const TlsClientContext& tls, const std::vector<ClientIdentity>& identities, int port,
            int threads, std::string* error);
  size_t size() const;
  void CloseAll();

 private:
  mutable std::mutex mutex_;
  std::vector<int> fds_;
};

}  // namespace certguard::bench
