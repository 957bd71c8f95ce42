#pragma once

// MQTT packets written byte by byte, for the clients libmosquitto will not play: the hostile
// client tests (malformed or refused CONNECTs), the soak's and the benchmarks' raw connections.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certguard::testing {

// The remaining-length field: 7 bits a byte, high bit set while more follow.
void AppendRemainingLength(std::string& out, size_t length);
// Big-endian, as MQTT writes integers.
void AppendU16(std::string& out, uint16_t value);
// A length-prefixed UTF-8 string field.
void AppendString(std::string& out, std::string_view text);
// The fixed header (packet type and flags in `first_byte`, then the length) before `body`.
std::string Framed(uint8_t first_byte, std::string_view body);

struct ConnectFields {
  int protocol = 4;  // 4: MQTT 3.1.1, 5: MQTT v5
  std::string client_id;
  uint16_t keepalive_seconds = 30;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<std::string> auth_method;  // v5 Authentication Method property
};
// A clean-session CONNECT.
std::string ConnectPacket(const ConnectFields& fields);

}  // namespace certguard::testing
