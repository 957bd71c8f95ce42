#pragma once

#include <string>
#include <string_view>

namespace certguard::exhook {

// Operator log on stderr: one line per event ("2026-11-24T03:45:00Z certguard-exhook: ..."),
// written whole under a lock so lines from gRPC worker threads never interleave.
void LogEvent(std::string_view message);

// Text a client chose (client id, peer address), quoted for a log line: escaped so it cannot
// forge lines, and cut short so it cannot flood them.
std::string Quoted(std::string_view untrusted);

}  // namespace certguard::exhook
