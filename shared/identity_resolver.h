#pragma once

#include <optional>
#include <string>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/identity_template.h"

namespace certguard {

std::string_view IdentitySourceName(IdentitySource source);
std::optional<IdentitySource> ParseIdentitySource(std::string_view name);
// Whether a source is read from the full certificate (not available from EMQX's CN and DN).
bool NeedsFullCertificate(IdentitySource source);

// The policy's `identity.from`: sources tried in order; the first value that fits its template
// gives the device id.
class IdentityResolver {
 public:
  struct Step {
    IdentitySource source;
    IdentityTemplate pattern;
  };

  void Add(IdentitySource source, IdentityTemplate pattern);
  const std::vector<Step>& steps() const { return steps_; }
  bool needs_full_certificate() const { return needs_full_certificate_; }

  // The device id, or nullopt when no source fits. `tried` (optional) says what was tried.
  std::optional<std::string> Resolve(const CertificateInfo& cert,
                                     std::string* tried = nullptr) const;

 private:
  std::vector<Step> steps_;
  bool needs_full_certificate_ = false;
};

}  // namespace certguard
