#include "shared/identity_resolver.h"

namespace certguard {
namespace {

struct SourceSpelling {
  std::string_view name;
  IdentitySource source;
};
constexpr SourceSpelling kSources[] = {
    {"cn", IdentitySource::kCn},
    {"san_dns", IdentitySource::kSanDns},
    {"san_uri", IdentitySource::kSanUri},
    {"san_email", IdentitySource::kSanEmail},
    {"san_ip", IdentitySource::kSanIp},
    {"subject", IdentitySource::kSubject},
    {"fingerprint", IdentitySource::kFingerprint},
};

}  // namespace

std::string_view IdentitySourceName(IdentitySource source) {
  for (const auto& s : kSources) {
    if (s.source == source) return s.name;
  }
  return "?";
}

std::optional<IdentitySource> ParseIdentitySource(std::string_view name) {
  for (const auto& s : kSources) {
    if (s.name == name) return s.source;
  }
  return std::nullopt;
}

bool NeedsFullCertificate(IdentitySource source) {
  return source != IdentitySource::kCn && source != IdentitySource::kSubject;
}

void IdentityResolver::Add(IdentitySource source, IdentityTemplate pattern) {
  needs_full_certificate_ = needs_full_certificate_ || NeedsFullCertificate(source);
  steps_.push_back({source, std::move(pattern)});
}

std::optional<std::string> IdentityResolver::Resolve(const CertificateInfo& cert,
                                                     std::string* tried) const {
  for (const Step& step : steps_) {
    if (tried != nullptr) {
      if (!tried->empty()) *tried += ", ";
      *tried += std::string(IdentitySourceName(step.source)) + " \"" + step.pattern.text() + "\"";
    }
    for (std::string_view value : cert.Values(step.source)) {
      if (auto id = step.pattern.Match(value)) return id;
    }
  }
  return std::nullopt;
}

}  // namespace certguard
