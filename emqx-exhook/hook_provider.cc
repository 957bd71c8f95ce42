#include "emqx-exhook/hook_provider.h"

#include <atomic>

#include "emqx-exhook/event_log.h"

namespace certguard::exhook {

void LogProviderLoaded(std::string_view package, std::string_view node,
                       std::string_view broker_version) {
  std::string hooks;
  for (std::string_view hook : kRegisteredHooks)
    hooks += (hooks.empty() ? "" : ", ") + std::string(hook);
  LogEvent("EMQX node " + Quoted(node) + " (version " + Quoted(broker_version) + ") loaded " +
           std::string(package) + ".HookProvider; hooks: " + hooks);
}

void LogProviderUnloaded(std::string_view package, std::string_view node) {
  LogEvent("EMQX node " + Quoted(node) + " unloaded " + std::string(package) + ".HookProvider");
}

void LogUnknownAuthorizeType(int type) {
  // Once per process: EMQX would send it on every publish or subscribe.
  static std::atomic<bool> logged{false};
  if (logged.exchange(true)) return;
  LogEvent("EMQX sent client.authorize with an unknown type " + std::to_string(type) +
           "; denied (and every later one too). Is this EMQX newer than certguard-exhook?");
}

}  // namespace certguard::exhook
