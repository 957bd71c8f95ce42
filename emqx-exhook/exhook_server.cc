#include "emqx-exhook/exhook_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "emqx-exhook/hook_provider.h"

namespace certguard::exhook {
namespace {

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{what + " " + path + ": cannot read: " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& options) {
  if (options.tls_cert.empty()) {
    if (!options.tls_key.empty() || !options.tls_ca.empty()) {
      return Error{"--tls-key and --tls-ca need --tls-cert"};
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_key.empty()) return Error{"--tls-cert needs --tls-key"};
  auto cert = ReadFile(options.tls_cert, "--tls-cert");
  if (!cert) return cert.error();
  auto key = ReadFile(options.tls_key, "--tls-key");
  if (!key) return key.error();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({key.value(), cert.value()});
  if (!options.tls_ca.empty()) {
    auto ca = ReadFile(options.tls_ca, "--tls-ca");
    if (!ca) return ca.error();
    ssl.pem_root_certs = ca.value();
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  return grpc::SslServerCredentials(ssl);
}

// gRPC's own errors for an unusable address are terse, and it takes a port number modulo 65536:
// check the address first, binding as gRPC will, to tell the operator what is wrong.
std::optional<std::string> WhyCannotListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return "expected HOST:PORT";
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return "\"" + port + "\" is not a port number (0-65535)";
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int rc =
          ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return "cannot resolve \"" + host + "\": " + ::gai_strerror(rc);
  }
  std::optional<std::string> why;
  for (addrinfo* address = found; address != nullptr && !why; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype, address->ai_protocol);
    if (fd < 0) continue;
    // As gRPC does: a port left in TIME_WAIT by a previous run is usable.
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(fd, address->ai_addr, address->ai_addrlen) != 0) why = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return why;
}

}  // namespace

Result<std::unique_ptr<ExhookServer>> ExhookServer::Start(const ServerOptions& options,
                                                          ExhookAuthorizer* authorizer) {
  auto credentials = Credentials(options);
  if (!credentials) return credentials.error();
  if (options.threads < 1) return Error{"--threads must be at least 1"};
  if (auto why = WhyCannotListen(options.listen)) {
    return Error{"cannot listen on " + options.listen + ": " + *why};
  }

  std::unique_ptr<ExhookServer> server(new ExhookServer());
  grpc::ServerBuilder builder;
  // Without this, gRPC binds with SO_REUSEPORT and would share a port that another server
  // (another certguard-exhook, say) already listens on instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.listen, credentials.value(), &server->port_);
  builder.RegisterService(&server->v2_);
  builder.RegisterService(&server->v3_);
  for (int i = 0; i < options.threads; ++i) {
    server->queues_.push_back(std::make_unique<CallQueue>(builder.AddCompletionQueue()));
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->server_.reset();
    for (auto& queue : server->queues_) {
      queue->Close();
      void* tag = nullptr;
      bool ok = false;
      while (queue->get()->Next(&tag, &ok)) {
      }
    }
    return Error{"cannot listen on " + options.listen + ": gRPC could not bind it"};
  }
  for (auto& queue : server->queues_) {
    ServeHookProvider(&server->v2_, "emqx.exhook.v2", queue.get(), authorizer);
    ServeHookProvider(&server->v3_, "emqx.exhook.v3", queue.get(), authorizer);
    server->workers_.emplace_back([queue = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (queue->get()->Next(&tag, &ok)) static_cast<QueuedCall*>(tag)->Proceed(ok);
    });
  }
  return server;
}

void ExhookServer::Shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  for (auto& queue : queues_) queue->Close();
  for (std::thread& worker : workers_) worker.join();
}

ExhookServer::~ExhookServer() {
  if (server_ != nullptr) Shutdown(std::chrono::milliseconds(0));
}

}  // namespace certguard::exhook
