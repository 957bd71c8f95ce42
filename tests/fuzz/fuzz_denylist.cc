// The operator's denylist from anywhere: parsed or refused with "revoked.txt:LINE: ...", never a
// crash. What parses must deny exactly what a straightforward reading of the lines lists.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/revocation_list.h"

namespace {

using certguard::RevocationStatus;
using Kind = RevocationStatus::Kind;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  while (!s.empty() && kSpace.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && kSpace.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

// Hex digits without ':' in the case asked for; empty when there is anything else.
std::string Hex(std::string_view value, bool upper) {
  std::string out;
  for (char c : value) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    out.push_back(static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                          : std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

struct Entry {
  std::string kind;
  std::string value;  // normalised
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto list = certguard::Denylist::Parse(text, "revoked.txt");
  if (!list.ok()) {
    Check(list.error().message.starts_with("revoked.txt:"));
    return 0;
  }

  // The reference reading: one entry per non-blank line, '#' to the end of a line a comment.
  std::vector<Entry> entries;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    Check(colon != std::string_view::npos);
    Entry e{std::string(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1)))};
    Check(!e.value.empty());
    if (e.kind == "serial") {
      e.value = Hex(e.value, true);
      Check(!e.value.empty());
      const size_t first = e.value.find_first_not_of('0');
      e.value = first == std::string::npos ? "0" : e.value.substr(first);
    } else if (e.kind == "sha256") {
      e.value = Hex(e.value, false);
      Check(e.value.size() == 64);
    } else {
      Check(e.kind == "id");
    }
    entries.push_back(std::move(e));
  }
  Check(list.value().size() <= entries.size());

  bool has_cert_entries = false;
  for (const Entry& e : entries) has_cert_entries = has_cert_entries || e.kind != "id";
  Check(list.value().has_certificate_entries() == has_cert_entries);
  const auto listed_id = [&](std::string_view id) {
    for (const Entry& e : entries) {
      if (e.kind == "id" && e.value == id) return true;
    }
    return false;
  };

  certguard::CertificateInfo cert;
  cert.has_full_certificate = true;
  for (const Entry& e : entries) {
    cert.serial_hex = e.kind == "serial" ? e.value : "";
    cert.sha256_hex = e.kind == "sha256" ? e.value : "";
    const std::string id = e.kind == "id" ? e.value : "";
    const RevocationStatus status = list.value().Check(cert, id);
    Check(status.kind == (e.kind == "serial"   ? Kind::kDenylistedSerial
                          : e.kind == "sha256" ? Kind::kDenylistedSha256
                                               : Kind::kDenylistedId));
    Check(status.detail.find("revoked.txt:") != std::string::npos);
  }
  // A device that nothing lists passes; with only CN and DN, certificate entries cannot be ruled
  // out and the answer says so.
  cert.serial_hex = "not-a-serial";
  cert.sha256_hex = "not-a-digest";
  if (!listed_id("unlisted device")) {
    Check(list.value().Check(cert, "unlisted device").kind == Kind::kGood);
    cert.has_full_certificate = false;
    Check(list.value().Check(cert, "unlisted device").kind ==
          (has_cert_entries ? Kind::kNeedsFullCertificate : Kind::kGood));
  }
  return 0;
}
