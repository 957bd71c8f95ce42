#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/decision.h"
#include "shared/filter_trie.h"
#include "shared/identity_resolver.h"
#include "shared/placeholder.h"
#include "shared/result.h"
#include "shared/revocation_list.h"

namespace certguard {

// The rules that apply to one principal (`all`, one group, or one exact device id), compiled.
// A trie that no rule fills stays unallocated: a fleet of 100,000 per-device rule sets mostly
// has one or two.
class PermissionSet {
 public:
  enum Kind { kAllowPublish, kDenyPublish, kAllowSubscribe, kDenySubscribe, kKinds };

  void Add(Kind kind, const TopicPattern& pattern, FilterTrie::RuleIndex rule);
  void Freeze();

  const FilterTrie* trie(Kind kind) const { return tries_[kind].get(); }
  PlaceholderMask placeholders() const { return placeholders_; }

 private:
  std::unique_ptr<FilterTrie> tries_[kKinds];
  PlaceholderMask placeholders_ = 0;
};

// A named set of devices: by id (exact or `*` globs) and/or by certificate subject attributes.
struct GroupDefinition {
  std::string name;
  std::vector<std::string> exact_ids;
  std::vector<std::string> id_globs;
  std::vector<SubjectAttribute> subject;  // every attribute must be present with this value

  bool Contains(std::string_view device_id, const CertificateInfo& cert) const;
};

enum class ClientIdMode { kMustMatch, kAny };

// A policy file compiled for decisions. Immutable once loaded; shared by every session that a
// PolicySnapshot authorised.
struct Policy {
  std::string path;  // the policy file as given
  IdentityResolver identity;
  ClientIdMode client_id_mode = ClientIdMode::kMustMatch;
  bool require_issuer = false;
  std::string ca_path;  // resolved; empty when the policy has no `ca`
  SourceLocation ca_location;

  std::vector<GroupDefinition> groups;
  std::vector<RuleEntry> rules;  // FilterTrie::RuleIndex indexes this

  PermissionSet for_all;
  std::vector<PermissionSet> for_group;  // parallel to `groups`
  std::unordered_map<std::string, PermissionSet> for_id;

  std::vector<std::string> crl_paths;  // resolved
  std::string denylist_path;           // resolved; empty when none
  StaleCrlMode stale_crl = StaleCrlMode::kDeny;
  std::chrono::milliseconds refresh{5000};

  // The rule sets that apply to a device, most general first.
  std::vector<const PermissionSet*> PermissionsFor(std::string_view device_id,
                                                   const CertificateInfo& cert) const;

  // Publish, subscribe and receive decisions (design.md, "Semantics"). `topic` is a topic name
  // for kPublish/kReceive and a filter (possibly `$share/g/...`) for kSubscribe.
  Decision Authorize(Action action, const std::vector<const PermissionSet*>& permissions,
                     const PlaceholderValues& values, std::string_view topic) const;

  // Parses and compiles a policy file. Errors read "file:line:col: message".
  static Result<std::shared_ptr<Policy>> Load(const std::string& path);
  static Result<std::shared_ptr<Policy>> Parse(std::string_view yaml, const std::string& path);
};

}  // namespace certguard
