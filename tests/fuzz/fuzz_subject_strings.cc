// EMQX's `cn` and `dn` strings (what certguard-exhook gets without pem mode), from anywhere: they
// give a subject or an error, never a crash. What is read holds no NUL, agrees with `cn`, and is a
// fixed point: the re-rendered subject_dn reads back as the same subject, so a `subject` template
// sees one string whichever broker and whichever spelling the DN came in. Input: cn '\n' dn.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/certificate_info.h"
#include "shared/identity_resolver.h"
#include "shared/identity_template.h"
#include "shared/placeholder.h"

namespace {

using certguard::CertificateInfo;
using certguard::IdentitySource;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

certguard::IdentityResolver MakeResolver() {
  certguard::IdentityResolver resolver;
  for (const auto& [source, text] :
       {std::pair{IdentitySource::kCn, "dev-{id}"},
        std::pair{IdentitySource::kSubject, "*OU={id},*"}, std::pair{IdentitySource::kCn, "{id}"},
        std::pair{IdentitySource::kSubject, "{id}"}}) {
    auto pattern = certguard::IdentityTemplate::Parse(text);
    Check(pattern.ok());
    resolver.Add(source, pattern.value());
  }
  return resolver;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return -1;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view cn = newline == std::string_view::npos ? "" : input.substr(0, newline);
  const std::string_view dn = newline == std::string_view::npos ? input : input.substr(newline + 1);

  const auto info = CertificateInfo::FromSubjectStrings(cn, dn);
  if (!info.ok()) {
    // Adapters log the message: a DN must not be able to start a line of its own.
    Check(!info.error().message.empty() &&
          info.error().message.find_first_of("\r\n") == std::string::npos);
    return 0;
  }
  const CertificateInfo& c = info.value();
  Check(!c.has_full_certificate && c.x509 == nullptr);
  Check(c.san_dns.empty() && c.san_uri.empty() && c.san_email.empty() && c.san_ip.empty());
  Check(c.serial_hex.empty() && c.sha256_hex.empty() && c.issuer_dn.empty());
  std::string joined;
  for (size_t i = 0; i < c.common_names.size(); ++i) {
    Check(!HasNul(c.common_names[i]));
    joined += (i > 0 ? "," : "") + c.common_names[i];
  }
  Check(joined == cn);
  for (const auto& attribute : c.subject)
    Check(!HasNul(attribute.type) && !HasNul(attribute.value));
  Check(!HasNul(c.subject_dn));
  Check(c.Values(IdentitySource::kSubject) == std::vector<std::string_view>{c.subject_dn});
  Check(c.Values(IdentitySource::kSanDns).empty() &&
        c.Values(IdentitySource::kFingerprint).empty());

  // Read back, the rendering gives the same subject. The exception is an attribute type OpenSSL
  // does not know (`2.52.5.4.48=x`): it is rendered as its BER encoding (`#0C0178`), the same on
  // both brokers, which a `dn` may not use.
  const auto again = CertificateInfo::FromSubjectStrings(cn, c.subject_dn);
  if (again.ok()) {
    Check(again.value().subject == c.subject && again.value().subject_dn == c.subject_dn);
  } else {
    Check(again.error().message.find("BER-encoded") != std::string::npos);
  }

  static const certguard::IdentityResolver resolver = MakeResolver();
  if (const auto id = resolver.Resolve(c)) {
    Check(!id->empty() && !HasNul(*id));
    if (!certguard::WhyNotSubstitutable(*id)) {
      Check(id->find_first_of("/+#") == std::string::npos);
    }
  }
  return 0;
}
