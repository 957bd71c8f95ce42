// Identity extraction from arbitrary DER: a certificate is read or refused, never half-read. What
// is read holds no NUL, no invalid UTF-8 in names, at most kMaxSubjectAltNames SANs, well-formed
// serial and fingerprint; every id a template resolves is really a capture of a value of its
// source; an id that passes WhyNotSubstitutable cannot widen a topic. The subject, rendered and
// read back the way EMQX's `dn` is read, must give the same subject or be refused.
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

bool IsHex(std::string_view s, bool upper) {
  for (char c : s) {
    const bool digit = c >= '0' && c <= '9';
    const bool letter = upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f');
    if (!digit && !letter) return false;
  }
  return true;
}

struct TemplateCase {
  IdentitySource source;
  std::string_view prefix;  // the template is prefix + "{id}" + suffix
  std::string_view suffix;
};

constexpr TemplateCase kTemplates[] = {
    {IdentitySource::kCn, "", ""},
    {IdentitySource::kCn, "dev-", "*"},
    {IdentitySource::kSanDns, "", ""},
    {IdentitySource::kSanDns, "", ".devices.example.com"},
    {IdentitySource::kSanUri, "", ""},
    {IdentitySource::kSanUri, "spiffe://iot.example.com/device/", ""},
    {IdentitySource::kSanEmail, "", "@example.com"},
    {IdentitySource::kSanIp, "10.*.", ""},
    {IdentitySource::kSubject, "*CN=", ",*"},
    {IdentitySource::kSubject, "", ""},
    {IdentitySource::kFingerprint, "", ""},
};

struct Resolver {
  certguard::IdentityResolver resolver;
  std::vector<const TemplateCase*> cases;  // parallel to resolver.steps()
};

std::vector<Resolver> MakeResolvers() {
  std::vector<Resolver> out;
  Resolver all;  // every case in one resolver, tried in order, as a policy's `identity.from`
  for (const TemplateCase& c : kTemplates) {
    auto pattern =
        certguard::IdentityTemplate::Parse(std::string(c.prefix) + "{id}" + std::string(c.suffix));
    Check(pattern.ok());
    Resolver one;
    one.resolver.Add(c.source, pattern.value());
    one.cases.push_back(&c);
    out.push_back(std::move(one));
    all.resolver.Add(c.source, pattern.value());
    all.cases.push_back(&c);
  }
  out.push_back(std::move(all));
  return out;
}

// Whether `id` is what `c` captures from some value of its source: the value splits into a part
// the prefix glob matches, `id`, and a part the suffix glob matches.
bool IsCapture(const CertificateInfo& info, const TemplateCase& c, std::string_view id) {
  for (std::string_view value : info.Values(c.source)) {
    for (size_t at = 0; at + id.size() <= value.size(); ++at) {
      if (value.substr(at, id.size()) == id &&
          certguard::GlobMatch(c.prefix, value.substr(0, at)) &&
          certguard::GlobMatch(c.suffix, value.substr(at + id.size()))) {
        return true;
      }
    }
  }
  return false;
}

void CheckIdentities(const CertificateInfo& info) {
  static const std::vector<Resolver> resolvers = MakeResolvers();
  for (const Resolver& r : resolvers) {
    const auto id = r.resolver.Resolve(info);
    if (!id) continue;
    Check(!id->empty() && !HasNul(*id));
    bool captured = false;
    for (const TemplateCase* c : r.cases) captured = captured || IsCapture(info, *c, *id);
    Check(captured);
    if (!certguard::WhyNotSubstitutable(*id)) {
      Check(id->find_first_of("/+#") == std::string::npos);
    }
  }
}

// Whether the members of each multi-valued RDN are in DER order (sorted by encoding), as DER
// requires and OpenSSL writes. A string does not carry the certificate's order, so a certificate
// that breaks the rule cannot round-trip through EMQX's `dn`; such certificates are only checked
// for not crashing. Re-encoding a copy sorts the members; the order must not change.
bool MembersInDerOrder(const X509_NAME* name) {
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> copy(X509_NAME_new(), X509_NAME_free);
  Check(copy != nullptr);
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const bool same_rdn = i > 0 && X509_NAME_ENTRY_set(entry) ==
                                       X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i - 1));
    if (X509_NAME_add_entry(copy.get(), entry, -1, same_rdn ? -1 : 0) != 1) return false;
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509_NAME(copy.get(), &der);
  if (length <= 0) return false;
  const unsigned char* cursor = der;
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> sorted(
      d2i_X509_NAME(nullptr, &cursor, length), X509_NAME_free);
  OPENSSL_free(der);
  if (!sorted || X509_NAME_entry_count(sorted.get()) != X509_NAME_entry_count(name)) return false;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* a = X509_NAME_get_entry(name, i);
    const X509_NAME_ENTRY* b = X509_NAME_get_entry(sorted.get(), i);
    if (OBJ_cmp(X509_NAME_ENTRY_get_object(a), X509_NAME_ENTRY_get_object(b)) != 0 ||
        ASN1_STRING_cmp(X509_NAME_ENTRY_get_data(a), X509_NAME_ENTRY_get_data(b)) != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return -1;  // a client certificate is a few KB at most
  const auto info =
      CertificateInfo::FromDer(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!info.ok()) {
    Check(!info.error().message.empty() &&
          info.error().message.find_first_of("\r\n") == std::string::npos);
    return 0;
  }
  const CertificateInfo& c = info.value();
  Check(c.has_full_certificate && c.x509 != nullptr);
  const size_t sans = c.san_dns.size() + c.san_uri.size() + c.san_email.size() + c.san_ip.size();
  Check(sans <= CertificateInfo::kMaxSubjectAltNames);
  for (const auto* list : {&c.common_names, &c.san_dns, &c.san_uri, &c.san_email, &c.san_ip}) {
    for (const std::string& value : *list) Check(!HasNul(value));
  }
  for (const auto& attribute : c.subject)
    Check(!HasNul(attribute.type) && !HasNul(attribute.value));
  Check(!HasNul(c.subject_dn) && !HasNul(c.issuer_dn));
  const std::string_view serial =
      std::string_view(c.serial_hex).substr(c.serial_hex.starts_with('-') ? 1 : 0);
  Check(!serial.empty() && IsHex(serial, true) && (serial == "0" || serial[0] != '0'));
  Check(c.sha256_hex.size() == 64 && IsHex(c.sha256_hex, false));
  Check(c.Values(IdentitySource::kSubject) == std::vector<std::string_view>{c.subject_dn});
  Check(c.Values(IdentitySource::kFingerprint) == std::vector<std::string_view>{c.sha256_hex});
  (void)c.IsSignedByOneOf({c.x509});  // a self-signed check runs the signature code on junk too

  CheckIdentities(c);

  // EMQX without pem mode sends the CNs joined by ',' and the subject as a string: read back,
  // that string must give this certificate's subject exactly, or be refused.
  std::string cns;
  for (size_t i = 0; i < c.common_names.size(); ++i) cns += (i > 0 ? "," : "") + c.common_names[i];
  const auto emqx = CertificateInfo::FromSubjectStrings(cns, c.subject_dn);
  if (emqx.ok() && MembersInDerOrder(X509_get_subject_name(c.x509.get()))) {
    Check(emqx.value().subject_dn == c.subject_dn);
    Check(emqx.value().subject == c.subject);
    Check(emqx.value().common_names == c.common_names);
  }
  return 0;
}
