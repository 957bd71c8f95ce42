#include "bench/support/raw_mqtt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "tests/support/mqtt_packets.h"

namespace certguard::bench {
namespace {

std::string OpenSslError(const std::string& what) {
  std::string out = what;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    out += std::string(": ") + buffer;
  }
  return out;
}

std::shared_ptr<BIO> MemBio(const std::string& text) {
  return std::shared_ptr<BIO>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())),
                              BIO_free);
}

bool WriteAll(SSL* ssl, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    const int n = SSL_write(ssl, data.data() + written, static_cast<int>(data.size() - written));
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

bool ReadExactly(SSL* ssl, unsigned char* out, size_t size) {
  size_t got = 0;
  while (got < size) {
    const int n = SSL_read(ssl, out + got, static_cast<int>(size - got));
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

void CloseConnection(MqttTlsConnection* connection) {
  if (connection->ssl != nullptr) SSL_free(connection->ssl);
  if (connection->fd >= 0) ::close(connection->fd);
  connection->ssl = nullptr;
  connection->fd = -1;
}

}  // namespace

ClientIdentity::ClientIdentity(std::string client_id, const std::string& cert_pem,
                               const std::string& key_pem)
    : client_id_(std::move(client_id)) {
  auto cert_bio = MemBio(cert_pem);
  cert_.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
  auto key_bio = MemBio(key_pem);
  key_.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!cert_ || !key_) throw std::runtime_error(OpenSslError("client identity " + client_id_));
}

TlsClientContext::TlsClientContext(const std::string& ca_path) {
  ctx_.reset(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx_ || SSL_CTX_load_verify_locations(ctx_.get(), ca_path.c_str(), nullptr) != 1) {
    throw std::runtime_error(OpenSslError("TLS client context"));
  }
  SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
  // Every connection is a full handshake, as for a fleet of distinct devices.
  SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_OFF);
}

int MqttTlsConnect(const TlsClientContext& tls, const ClientIdentity& identity, int port,
                   MqttTlsConnection* connection, std::string* error,
                   std::chrono::milliseconds timeout) {
  *connection = {};
  const auto fail = [&](const std::string& what) {
    *error = OpenSslError(identity.client_id() + ": " + what);
    CloseConnection(connection);
    return -1;
  };
  connection->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connection->fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(connection->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(connection->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(connection->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(connection->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(std::string("connect: ") + std::strerror(errno));
  }
  connection->ssl = SSL_new(tls.get());
  if (connection->ssl == nullptr || SSL_set_fd(connection->ssl, connection->fd) != 1 ||
      SSL_use_certificate(connection->ssl, identity.cert()) != 1 ||
      SSL_use_PrivateKey(connection->ssl, identity.key()) != 1) {
    return fail("SSL set-up");
  }
  if (SSL_connect(connection->ssl) != 1) return fail("TLS handshake");
  testing::ConnectFields connect;
  connect.client_id = identity.client_id();
  connect.keepalive_seconds = 65535;
  if (!WriteAll(connection->ssl, testing::ConnectPacket(connect))) return fail("CONNECT");
  unsigned char connack[4];
  if (!ReadExactly(connection->ssl, connack, sizeof connack)) return fail("no CONNACK");
  if (connack[0] != 0x20 || connack[1] != 0x02) return fail("not a CONNACK");
  return connack[3];
}

void MqttTlsDisconnect(MqttTlsConnection* connection) {
  if (connection->ssl != nullptr) {
    WriteAll(connection->ssl, std::string("\xe0\x00", 2));
    SSL_shutdown(connection->ssl);
  }
  CloseConnection(connection);
}

void MqttTlsKeepIdle(MqttTlsConnection* connection) {
  if (connection->ssl != nullptr) SSL_free(connection->ssl);
  connection->ssl = nullptr;
}

bool IdleConnections::Open(const TlsClientContext& tls,
                           const std::vector<ClientIdentity>& identities, int port, int threads,
                           std::string* error) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      while (!failed.load()) {
        const size_t i = next.fetch_add(1);
        if (i >= identities.size()) return;
        MqttTlsConnection connection;
        std::string why;
        const int rc = MqttTlsConnect(tls, identities[i], port, &connection, &why);
        if (rc != 0) {
          if (rc > 0) why = identities[i].client_id() + ": CONNACK " + std::to_string(rc);
          if (rc > 0) MqttTlsDisconnect(&connection);
          std::lock_guard lock(error_mutex);
          if (!failed.exchange(true)) *error = why;
          return;
        }
        MqttTlsKeepIdle(&connection);
        std::lock_guard lock(mutex_);
        fds_.push_back(connection.fd);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  return !failed.load();
}

size_t IdleConnections::size() const {
  std::lock_guard lock(mutex_);
  return fds_.size();
}

void IdleConnections::CloseAll() {
  std::lock_guard lock(mutex_);
  for (int fd : fds_) ::close(fd);
  fds_.clear();
}

}  // namespace certguard::bench
