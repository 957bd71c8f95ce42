#include "shared/audit_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>

namespace certguard {

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return Error{path + ": cannot open audit log: " + std::strerror(errno)};
  return std::unique_ptr<AuditLog>(new AuditLog(path, file));
}

AuditLog::~AuditLog() {
  if (file_ != nullptr) std::fclose(file_);
}

Result<bool> AuditLog::Reopen() {
  std::FILE* file = std::fopen(path_.c_str(), "a");
  if (file == nullptr) return Error{path_ + ": cannot reopen audit log: " + std::strerror(errno)};
  std::lock_guard lock(mutex_);
  std::fclose(file_);
  file_ = file;
  return true;
}

std::string AuditLog::Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          // Bytes >= 0x80 pass through: topics are UTF-8 (the broker checked), and a device id
          // that is not valid UTF-8 never gets this far.
          out.push_back(ch);
        }
    }
  }
  return out;
}

void AuditLog::Record(std::string_view client_id, std::string_view device_id, Action action,
                      std::string_view topic, const Decision& decision) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char time_text[96];
  std::snprintf(time_text, sizeof time_text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, static_cast<int>(millis));

  std::string line = "{\"time\":\"";
  line += time_text;
  line += "\",\"client_id\":\"" + Escape(client_id) + "\",\"device_id\":\"" + Escape(device_id) +
          "\",\"action\":\"" + std::string(ActionName(action)) + "\",\"topic\":\"" + Escape(topic) +
          "\",\"decision\":\"" + (decision.allowed ? "allow" : "deny") + "\",\"reason\":\"" +
          Escape(ReasonName(decision.reason));
  if (!decision.detail.empty()) line += ": " + Escape(decision.detail);
  line += "\"";
  if (decision.rule != nullptr) {
    const auto& loc = decision.rule->location;
    line += ",\"rule\":\"" + Escape(loc.file) + ":" + std::to_string(loc.line) + ":" +
            std::to_string(loc.column) + "\"";
  }
  line += "}\n";
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);  // denials are rare and must survive a broker crash
}

}  // namespace certguard
