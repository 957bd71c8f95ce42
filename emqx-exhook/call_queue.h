#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <shared_mutex>
#include <utility>

namespace certguard::exhook {

// One gRPC completion queue served by one worker thread. New calls are only requested while the
// queue is open: requesting on a queue that was shut down aborts the process, and a worker may
// still be handling a call when shutdown begins.
class CallQueue {
 public:
  explicit CallQueue(std::unique_ptr<grpc::ServerCompletionQueue> queue)
      : queue_(std::move(queue)) {}

  grpc::ServerCompletionQueue* get() const { return queue_.get(); }

  // Runs `request(queue)` unless the queue is closing; returns whether it ran.
  template <typename Request>
  bool IfOpen(Request&& request) {
    std::shared_lock lock(mutex_);
    if (closing_) return false;
    request(queue_.get());
    return true;
  }

  // After the server's Shutdown: no new requests, then the queue drains and its worker ends.
  void Close() {
    {
      std::unique_lock lock(mutex_);
      closing_ = true;
    }
    queue_->Shutdown();
  }

 private:
  std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  std::shared_mutex mutex_;
  bool closing_ = false;
};

// A tag on a completion queue: one unary call, from waiting for a request to its answer sent.
class QueuedCall {
 public:
  virtual ~QueuedCall() = default;
  // `ok`: the queue's verdict on the step that finished (false: cancelled or shutting down).
  virtual void Proceed(bool ok) = 0;
};

// A unary RPC served asynchronously: the handler runs on the queue's worker thread and answers
// at once. `RequestMethod` is the generated `AsyncService::RequestOnXxx`.
template <typename Service, typename Request, typename Response, typename Handler>
class UnaryCall final : public QueuedCall {
 public:
  using RequestMethod = void (Service::*)(grpc::ServerContext*, Request*,
                                          grpc::ServerAsyncResponseWriter<Response>*,
                                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*,
                                          void*);

  // Waits for the next call of this method on `queue`.
  static void Await(Service* service, RequestMethod method, CallQueue* queue, Handler handler) {
    auto* call = new UnaryCall(service, method, queue, std::move(handler));
    const bool requested = queue->IfOpen([&](grpc::ServerCompletionQueue* cq) {
      (service->*method)(&call->context_, &call->request_, &call->responder_, cq, cq, call);
    });
    if (!requested) delete call;
  }

  void Proceed(bool ok) override {
    if (ok && !answered_) {
      Await(service_, method_, queue_, handler_);  // keep one call of this kind waiting
      Response response;
      const grpc::Status status = handler_(request_, &response);
      answered_ = true;
      responder_.Finish(response, status, this);
      return;
    }
    delete this;  // answered, or no call came before shutdown
  }

 private:
  UnaryCall(Service* service, RequestMethod method, CallQueue* queue, Handler handler)
      : service_(service),
        method_(method),
        queue_(queue),
        handler_(std::move(handler)),
        responder_(&context_) {}

  Service* const service_;
  const RequestMethod method_;
  CallQueue* const queue_;
  Handler handler_;
  grpc::ServerContext context_;
  Request request_;
  grpc::ServerAsyncResponseWriter<Response> responder_;
  bool answered_ = false;
};

// Deduces the call's types from the generated method, which the generated code declares on a
// base class of the service (`WithAsyncMethod_OnXxx<...>`), hence two service types.
template <typename AsyncService, typename Service, typename Request, typename Response,
          typename Handler>
void AwaitCall(AsyncService* service,
               void (Service::*method)(grpc::ServerContext*, Request*,
                                       grpc::ServerAsyncResponseWriter<Response>*,
                                       grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
               CallQueue* queue, Handler handler) {
  UnaryCall<Service, Request, Response, Handler>::Await(service, method, queue, std::move(handler));
}

}  // namespace certguard::exhook
