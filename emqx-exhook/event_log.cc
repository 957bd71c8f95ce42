#include "emqx-exhook/event_log.h"

#include <cstdio>
#include <ctime>
#include <mutex>

#include "shared/audit_log.h"

namespace certguard::exhook {

void LogEvent(std::string_view message) {
  static std::mutex mutex;
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::lock_guard lock(mutex);
  std::fprintf(stderr, "%s certguard-exhook: %.*s\n", stamp, static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
}

std::string Quoted(std::string_view untrusted) {
  static constexpr size_t kMax = 128;
  std::string out = "\"" + AuditLog::Escape(untrusted.substr(0, kMax)) + "\"";
  if (untrusted.size() > kMax) out += "...(" + std::to_string(untrusted.size()) + " bytes)";
  return out;
}

}  // namespace certguard::exhook
