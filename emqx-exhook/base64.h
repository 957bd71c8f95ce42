#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace certguard::exhook {

// Decodes standard base64 (RFC 4648 §4, with '=' padding), the form EMQX's
// `peer_cert_as_username = pem` puts into the username. Strict: any other character, missing
// or misplaced padding, or non-zero bits in the last symbol give nullopt, so a value EMQX did not
// produce is refused rather than half-read.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace certguard::exhook
