#include "tests/support/mqtt_packets.h"

namespace certguard::testing {

void AppendRemainingLength(std::string& out, size_t length) {
  do {
    unsigned char byte = length % 128;
    length /= 128;
    if (length > 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (length > 0);
}

void AppendU16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xff));
}

void AppendString(std::string& out, std::string_view text) {
  AppendU16(out, static_cast<uint16_t>(text.size()));
  out.append(text);
}

std::string Framed(uint8_t first_byte, std::string_view body) {
  std::string packet(1, static_cast<char>(first_byte));
  AppendRemainingLength(packet, body.size());
  packet.append(body);
  return packet;
}

std::string ConnectPacket(const ConnectFields& fields) {
  std::string body;
  AppendString(body, "MQTT");
  body.push_back(static_cast<char>(fields.protocol));
  unsigned char flags = 0x02;  // clean session
  if (fields.username) flags |= 0x80;
  if (fields.password) flags |= 0x40;
  body.push_back(static_cast<char>(flags));
  AppendU16(body, fields.keepalive_seconds);
  if (fields.protocol == 5) {
    std::string properties;
    if (fields.auth_method) {
      properties.push_back(0x15);  // Authentication Method
      AppendString(properties, *fields.auth_method);
    }
    AppendRemainingLength(body, properties.size());
    body += properties;
  }
  AppendString(body, fields.client_id);
  if (fields.username) AppendString(body, *fields.username);
  if (fields.password) AppendString(body, *fields.password);
  return Framed(0x10, body);
}

}  // namespace certguard::testing
