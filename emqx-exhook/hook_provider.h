#pragma once

#include <grpcpp/grpcpp.h>

#include <ctime>
#include <string>
#include <string_view>
#include <type_traits>

#include "emqx-exhook/call_queue.h"
#include "emqx-exhook/exhook_authorizer.h"

namespace certguard::exhook {

// The hooks certguard asks EMQX to call: the two that decide. Every other registered hook would
// add a gRPC round trip to EMQX's hot path for nothing.
inline constexpr std::string_view kRegisteredHooks[] = {"client.authenticate", "client.authorize"};

// Log lines for the calls worth an operator's attention; defined in hook_provider.cc.
void LogProviderLoaded(std::string_view package, std::string_view node,
                       std::string_view broker_version);
void LogProviderUnloaded(std::string_view package, std::string_view node);
void LogUnknownAuthorizeType(int type);

template <typename ClientInfo>
ClientFacts FactsOf(const ClientInfo& info) {
  return {info.clientid(), info.username(), info.cn(), info.dn(), info.peerhost()};
}

template <typename ValuedResponse>
void AnswerDecided(ValuedResponse* response, bool allowed) {
  // STOP_AND_RETURN, never IGNORE: EMQX 5.8 treats IGNORE on authenticate as a refusal.
  response->set_type(ValuedResponse::STOP_AND_RETURN);
  response->set_bool_result(allowed);
}

// Serves one package version of `HookProvider` (emqx.exhook.v2 or .v3) on `queue`. The versions'
// generated types differ only in namespace and in fields certguard does not read, so one
// template gives both the same answers.
template <typename AsyncService>
void ServeHookProvider(AsyncService* service, std::string_view package, CallQueue* queue,
                       ExhookAuthorizer* authorizer) {
  AwaitCall(service, &AsyncService::RequestOnProviderLoaded, queue,
            [package](const auto& request, auto* response) {
              LogProviderLoaded(package, request.meta().node(), request.broker().version());
              for (std::string_view hook : kRegisteredHooks) {
                response->add_hooks()->set_name(std::string(hook));
              }
              return grpc::Status::OK;
            });
  AwaitCall(service, &AsyncService::RequestOnProviderUnloaded, queue,
            [package](const auto& request, auto*) {
              LogProviderUnloaded(package, request.meta().node());
              return grpc::Status::OK;
            });
  AwaitCall(service, &AsyncService::RequestOnClientAuthenticate, queue,
            [authorizer](const auto& request, auto* response) {
              const Verdict verdict =
                  authorizer->Authenticate(FactsOf(request.clientinfo()), std::time(nullptr));
              AnswerDecided(response, verdict.allowed());
              return grpc::Status::OK;
            });
  AwaitCall(service, &AsyncService::RequestOnClientAuthorize, queue,
            [authorizer](const auto& request, auto* response) {
              using Request = std::decay_t<decltype(request)>;
              bool allowed = false;
              // Read as an int: a type this build does not know arrives as its raw value.
              const int type = request.type();
              if (type == Request::PUBLISH || type == Request::SUBSCRIBE) {
                const Action action =
                    type == Request::PUBLISH ? Action::kPublish : Action::kSubscribe;
                allowed = authorizer
                              ->Authorize(FactsOf(request.clientinfo()), action, request.topic(),
                                          std::time(nullptr))
                              .allowed();
              } else {
                LogUnknownAuthorizeType(type);
              }
              AnswerDecided(response, allowed);
              return grpc::Status::OK;
            });
  // Never registered, so EMQX does not call it; answered without touching the message.
  AwaitCall(service, &AsyncService::RequestOnMessagePublish, queue,
            [](const auto&, auto* response) {
              using ValuedResponse = std::remove_pointer_t<decltype(response)>;
              response->set_type(ValuedResponse::IGNORE);
              return grpc::Status::OK;
            });

  // Every other hook: acknowledged, nothing to decide.
  const auto acknowledge = [](const auto&, auto*) { return grpc::Status::OK; };
  AwaitCall(service, &AsyncService::RequestOnClientConnect, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnClientConnack, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnClientConnected, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnClientDisconnected, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnClientSubscribe, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnClientUnsubscribe, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnSessionCreated, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnSessionSubscribed, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnSessionUnsubscribed, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnSessionResumed, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnSessionDiscarded, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnSessionTakenover, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnSessionTerminated, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnMessageDelivered, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnMessageDropped, queue, acknowledge);
  AwaitCall(service, &AsyncService::RequestOnMessageAcked, queue, acknowledge);
}

}  // namespace certguard::exhook
