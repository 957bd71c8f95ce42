// The do-nothing baseline for bench/exhook_bench: an ExHook server built exactly as
// certguard-exhook is (the same generated emqx.exhook.v2/v3 services, the same gRPC server
// set-up, one completion queue per worker thread with the same CallQueue/UnaryCall machinery,
// the same "listening on" line), whose handlers answer without deciding anything:
// authenticate and authorize say STOP_AND_RETURN true. What certguard-exhook costs beyond it is
// the authorization itself.
//
// Usage: exhook_null_server --listen HOST:PORT [--threads N]; stops on SIGTERM or SIGINT.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include "emqx-exhook/call_queue.h"
#include "emqx-exhook/hook_provider.h"
#include "emqx/exhook/v2/exhook.grpc.pb.h"
#include "emqx/exhook/v3/exhook.grpc.pb.h"

namespace {

using certguard::exhook::AwaitCall;
using certguard::exhook::CallQueue;
using certguard::exhook::QueuedCall;

template <typename ValuedResponse>
void Allow(ValuedResponse* response) {
  response->set_type(ValuedResponse::STOP_AND_RETURN);
  response->set_bool_result(true);
}

// The calls the benchmark makes, answered at once. (An async service leaves a method it never
// requests hanging, so only what is called is served.)
template <typename AsyncService>
void ServeNothing(AsyncService* service, CallQueue* queue) {
  AwaitCall(service, &AsyncService::RequestOnProviderLoaded, queue,
            [](const auto&, auto* response) {
              for (std::string_view hook : certguard::exhook::kRegisteredHooks) {
                response->add_hooks()->set_name(std::string(hook));
              }
              return grpc::Status::OK;
            });
  AwaitCall(service, &AsyncService::RequestOnProviderUnloaded, queue,
            [](const auto&, auto*) { return grpc::Status::OK; });
  AwaitCall(service, &AsyncService::RequestOnClientAuthenticate, queue,
            [](const auto&, auto* response) {
              Allow(response);
              return grpc::Status::OK;
            });
  AwaitCall(service, &AsyncService::RequestOnClientAuthorize, queue,
            [](const auto&, auto* response) {
              Allow(response);
              return grpc::Status::OK;
            });
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  // certguard-exhook's default, so that both servers run the same number of workers.
  int threads = static_cast<int>(std::max(2u, std::min(16u, std::thread::hardware_concurrency())));
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
  }
  if (listen.empty() || threads < 1) {
    std::fprintf(stderr, "usage: exhook_null_server --listen HOST:PORT [--threads N]\n");
    return 2;
  }
  // As certguard-exhook does (emqx-exhook/main.cc): Debian's Abseil keeps its deadlock detector on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts: all inherit it

  emqx::exhook::v2::HookProvider::AsyncService v2;
  emqx::exhook::v3::HookProvider::AsyncService v3;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&v2);
  builder.RegisterService(&v3);
  std::vector<std::unique_ptr<CallQueue>> queues;
  for (int i = 0; i < threads; ++i) {
    queues.push_back(std::make_unique<CallQueue>(builder.AddCompletionQueue()));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::vector<std::thread> workers;
  for (auto& queue : queues) {
    ServeNothing(&v2, queue.get());
    ServeNothing(&v3, queue.get());
    workers.emplace_back([queue = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (queue->get()->Next(&tag, &ok)) static_cast<QueuedCall*>(tag)->Proceed(ok);
    });
  }
  std::fprintf(stderr, "listening on %s:%d (plain TCP, %d threads, do-nothing handlers)\n",
               listen.substr(0, listen.rfind(':')).c_str(), port, threads);
  std::fflush(stderr);

  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (auto& queue : queues) queue->Close();
  for (auto& worker : workers) worker.join();
  return 0;
}
