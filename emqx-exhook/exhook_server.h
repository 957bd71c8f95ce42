#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "emqx-exhook/call_queue.h"
#include "emqx-exhook/exhook_authorizer.h"
#include "emqx/exhook/v2/exhook.grpc.pb.h"
#include "emqx/exhook/v3/exhook.grpc.pb.h"
#include "shared/result.h"

namespace certguard::exhook {

struct ServerOptions {
  std::string listen;  // HOST:PORT ("[::1]:9000" for IPv6); port 0 picks a free one
  // TLS on the listener when tls_cert is set; mutual TLS (client certificate required and
  // verified against tls_ca) when tls_ca is set too. Paths to PEM files.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  int threads = 2;  // worker threads, each with its own completion queue
};

// The gRPC side: serves emqx.exhook.v2 and .v3 HookProvider on one port, with a fixed number of
// worker threads, answering from `authorizer`. Calls queue up rather than fail when every
// worker is busy (EMQX turns a failed call into `failed_action`, a refused login).
class ExhookServer {
 public:
  // Error messages name the address and why it cannot be used.
  static Result<std::unique_ptr<ExhookServer>> Start(const ServerOptions& options,
                                                     ExhookAuthorizer* authorizer);
  ~ExhookServer();

  int port() const { return port_; }
  // Stops accepting calls, lets running ones finish for up to `grace`, cancels the rest, and
  // joins the workers.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  ExhookServer() = default;

  emqx::exhook::v2::HookProvider::AsyncService v2_;
  emqx::exhook::v3::HookProvider::AsyncService v3_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<CallQueue>> queues_;
  std::vector<std::thread> workers_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace certguard::exhook
