#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "shared/decision.h"
#include "shared/result.h"

namespace certguard {

// One JSON object per line for each decision that denies, for operators' log pipelines:
// {"time":"2026-11-24T03:45:00.123Z","client_id":"sensor-1","device_id":"sensor-1",
//  "action":"publish","topic":"sensors/sensor-2/telemetry","decision":"deny",
//  "reason":"no allow rule matches (default deny)","rule":"policy.yaml:30:18"}
class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  void Record(std::string_view client_id, std::string_view device_id, Action action,
              std::string_view topic, const Decision& decision);
  // Reopens the file (after log rotation). Keeps the old stream when the path cannot be opened.
  Result<bool> Reopen();

  // JSON string escaping (RFC 8259), exposed for tests.
  static std::string Escape(std::string_view text);

 private:
  explicit AuditLog(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::mutex mutex_;  // the exhook server records from many threads
  std::FILE* file_;
};

}  // namespace certguard
