// Policy format version 1 (design.md): YAML → compiled Policy. Every error names file:line:col.
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "shared/policy.h"
#include "shared/topic_filter.h"

namespace certguard {
namespace {

// Thrown inside the loader only; Policy::Parse turns it into an Error.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Loader {
 public:
  Loader(std::string path, Policy& policy) : path_(std::move(path)), policy_(policy) {}

  void Load(const YAML::Node& root) {
    if (!root.IsMap())
      Fail(root, "a policy is a YAML mapping with `version`, `identity` and `rules`");
    CheckKeys(root, {"version", "ca", "identity", "groups", "rules", "revocation"});
    const YAML::Node version = Require(root, "version");
    if (!version.IsScalar() || version.Scalar() != "1") {
      Fail(version, "unsupported policy version '" + ScalarOr(version, "?") +
                        "' (this certguard reads version 1)");
    }
    if (const YAML::Node ca = root["ca"]) {
      policy_.ca_path = ResolvePath(ScalarString(ca, "ca"));
      policy_.ca_location = Locate(ca);
    }
    LoadIdentity(Require(root, "identity"));
    if (const YAML::Node groups = root["groups"]) LoadGroups(groups);
    LoadRules(Require(root, "rules"));
    if (const YAML::Node revocation = root["revocation"]) LoadRevocation(revocation);
  }

 private:
  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& message) const {
    if (mark.is_null()) throw LoadError(path_ + ": " + message);
    throw LoadError(path_ + ":" + std::to_string(mark.line + 1) + ":" +
                    std::to_string(mark.column + 1) + ": " + message);
  }
  [[noreturn]] void Fail(const YAML::Node& node, const std::string& message) const {
    Fail(node.Mark(), message);
  }

  SourceLocation Locate(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    return {path_, mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : mark.column + 1};
  }

  static std::string ScalarOr(const YAML::Node& node, const std::string& fallback) {
    return node.IsScalar() ? node.Scalar() : fallback;
  }

  void CheckKeys(const YAML::Node& map, std::initializer_list<std::string_view> known) const {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = ScalarOr(it->first, "");
      bool ok = false;
      std::string list;
      for (std::string_view k : known) {
        ok = ok || k == key;
        list += (list.empty() ? "" : ", ") + std::string(k);
      }
      if (!ok) Fail(it->first, "unknown key '" + key + "' (expected one of: " + list + ")");
    }
  }

  YAML::Node Require(const YAML::Node& map, const std::string& key) const {
    const YAML::Node node = map[key];
    if (!node || node.IsNull()) Fail(map, "missing required key '" + key + "'");
    return node;
  }

  std::string ScalarString(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) Fail(node, "`" + what + "` must be a string");
    return node.Scalar();
  }

  // A string or a list of strings.
  std::vector<YAML::Node> StringList(const YAML::Node& node, const std::string& what) const {
    std::vector<YAML::Node> out;
    if (node.IsScalar()) {
      out.push_back(node);
    } else if (node.IsSequence()) {
      for (const YAML::Node& item : node) {
        if (!item.IsScalar()) Fail(item, "`" + what + "` entries must be strings");
        out.push_back(item);
      }
    } else {
      Fail(node, "`" + what + "` must be a string or a list of strings");
    }
    return out;
  }

  bool Bool(const YAML::Node& node, const std::string& what) const {
    const std::string value = ScalarString(node, what);
    if (value == "true") return true;
    if (value == "false") return false;
    Fail(node, "`" + what + "` must be true or false, not '" + value + "'");
  }

  std::string ResolvePath(const std::string& relative) const {
    const std::filesystem::path p(relative);
    if (p.is_absolute()) return p.string();
    return (std::filesystem::path(path_).parent_path() / p).lexically_normal().string();
  }

  void LoadIdentity(const YAML::Node& identity) {
    if (!identity.IsMap()) Fail(identity, "`identity` must be a mapping with `from`");
    CheckKeys(identity, {"from", "client_id", "require_issuer"});
    const YAML::Node from = Require(identity, "from");
    if (!from.IsSequence() || from.size() == 0) {
      Fail(from, "`identity.from` must be a non-empty list such as [{cn: \"{id}\"}]");
    }
    for (const YAML::Node& entry : from) {
      if (!entry.IsMap() || entry.size() != 1) {
        Fail(entry, "each `identity.from` entry is one `source: template` pair, e.g. cn: \"{id}\"");
      }
      const auto it = entry.begin();
      const std::string name = ScalarOr(it->first, "");
      const auto source = ParseIdentitySource(name);
      if (!source) {
        Fail(it->first, "unknown identity source '" + name +
                            "' (expected one of: cn, san_dns, san_uri, san_email, san_ip, "
                            "subject, fingerprint)");
      }
      auto pattern = IdentityTemplate::Parse(ScalarString(it->second, name));
      if (!pattern) Fail(it->second, pattern.error().message);
      policy_.identity.Add(*source, std::move(pattern).value());
    }
    if (const YAML::Node client_id = identity["client_id"]) {
      const std::string mode = ScalarString(client_id, "client_id");
      if (mode == "must_match") {
        policy_.client_id_mode = ClientIdMode::kMustMatch;
      } else if (mode == "any") {
        policy_.client_id_mode = ClientIdMode::kAny;
      } else {
        Fail(client_id, "`client_id` must be must_match or any, not '" + mode + "'");
      }
    }
    if (const YAML::Node require_issuer = identity["require_issuer"]) {
      policy_.require_issuer = Bool(require_issuer, "require_issuer");
      if (policy_.require_issuer && policy_.ca_path.empty()) {
        Fail(require_issuer, "`require_issuer: true` needs `ca` (the CA certificates to check)");
      }
    }
  }

  void LoadGroups(const YAML::Node& groups) {
    if (!groups.IsMap()) Fail(groups, "`groups` must be a mapping of group names");
    for (auto it = groups.begin(); it != groups.end(); ++it) {
      GroupDefinition group;
      group.name = ScalarString(it->first, "group name");
      if (group.name.empty() || group.name == "all") {
        Fail(it->first, "'" + group.name + "' cannot name a group (`all` means every device)");
      }
      if (group_index_.count(group.name))
        Fail(it->first, "group '" + group.name + "' defined twice");
      const YAML::Node def = it->second;
      if (!def.IsMap())
        Fail(def, "group '" + group.name + "' must be a mapping with `id` or `subject`");
      CheckKeys(def, {"id", "subject"});
      if (const YAML::Node ids = def["id"]) {
        for (const YAML::Node& id : StringList(ids, "id")) {
          const std::string text = id.Scalar();
          if (text.empty()) Fail(id, "an id pattern cannot be empty");
          (text.find('*') == std::string::npos ? group.exact_ids : group.id_globs).push_back(text);
        }
      }
      if (const YAML::Node subject = def["subject"]) {
        if (!subject.IsMap() || subject.size() == 0) {
          Fail(subject, "`subject` must map attribute names to values, e.g. { OU: \"platform\" }");
        }
        for (auto attr = subject.begin(); attr != subject.end(); ++attr) {
          group.subject.push_back({ScalarString(attr->first, "subject attribute"),
                                   ScalarString(attr->second, "subject value")});
        }
      }
      if (group.exact_ids.empty() && group.id_globs.empty() && group.subject.empty()) {
        Fail(def, "group '" + group.name + "' needs `id` or `subject`");
      }
      group_index_[group.name] = policy_.groups.size();
      policy_.groups.push_back(std::move(group));
    }
    policy_.for_group.resize(policy_.groups.size());
  }

  // A rule's `for`: the rule sets its entries go into, and how to name them in explanations.
  struct Principals {
    std::vector<PermissionSet*> sets;
    std::string text;
  };

  void AddPrincipal(const YAML::Node& item, Principals& out) {
    if (item.IsScalar()) {
      const std::string name = item.Scalar();
      if (name == "all") {
        out.sets.push_back(&policy_.for_all);
      } else if (auto it = group_index_.find(name); it != group_index_.end()) {
        out.sets.push_back(&policy_.for_group[it->second]);
      } else {
        Fail(item, "unknown group '" + name + "' (define it under `groups`, or use `all`)");
      }
      out.text += (out.text.empty() ? "" : ", ") + name;
      return;
    }
    if (item.IsMap()) {
      CheckKeys(item, {"id"});
      const YAML::Node ids = Require(item, "id");
      for (const YAML::Node& id : StringList(ids, "id")) {
        const std::string text = id.Scalar();
        if (text.find('*') != std::string::npos) {
          Fail(id, "`for: {id: ...}` takes exact ids; put globs in a group");
        }
        if (auto why = WhyNotSubstitutable(text))
          Fail(id, "'" + text + "' is not a device id: " + *why);
        out.sets.push_back(&policy_.for_id[text]);
        out.text += (out.text.empty() ? "id:" : ", id:") + text;
      }
      return;
    }
    Fail(item, "`for` entries are group names, `all`, or {id: \"device-id\"}");
  }

  void LoadRules(const YAML::Node& rules) {
    if (!rules.IsSequence()) Fail(rules, "`rules` must be a list");
    for (const YAML::Node& rule : rules) {
      if (!rule.IsMap()) Fail(rule, "each rule is a mapping with `for` and `allow` and/or `deny`");
      CheckKeys(rule, {"for", "allow", "deny"});
      const YAML::Node for_node = Require(rule, "for");
      Principals principals;
      if (for_node.IsSequence()) {
        if (for_node.size() == 0) Fail(for_node, "`for` cannot be an empty list");
        for (const YAML::Node& item : for_node) AddPrincipal(item, principals);
        principals.text = "[" + principals.text + "]";
      } else {
        AddPrincipal(for_node, principals);
      }
      if (!rule["allow"] && !rule["deny"]) Fail(rule, "a rule needs `allow` or `deny`");
      if (const YAML::Node allow = rule["allow"]) LoadEntries(allow, Effect::kAllow, principals);
      if (const YAML::Node deny = rule["deny"]) LoadEntries(deny, Effect::kDeny, principals);
    }
  }

  void LoadEntries(const YAML::Node& entries, Effect effect, const Principals& principals) {
    const std::string what = effect == Effect::kAllow ? "allow" : "deny";
    if (!entries.IsMap()) Fail(entries, "`" + what + "` must map publish/subscribe to filters");
    CheckKeys(entries, {"publish", "subscribe"});
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      const Action action = it->first.Scalar() == "publish" ? Action::kPublish : Action::kSubscribe;
      PermissionSet::Kind kind;
      if (action == Action::kPublish) {
        kind =
            effect == Effect::kAllow ? PermissionSet::kAllowPublish : PermissionSet::kDenyPublish;
      } else {
        kind = effect == Effect::kAllow ? PermissionSet::kAllowSubscribe
                                        : PermissionSet::kDenySubscribe;
      }
      for (const YAML::Node& filter : StringList(it->second, it->first.Scalar())) {
        const std::string text = filter.Scalar();
        auto pattern = TopicPattern::Parse(text);
        if (!pattern) Fail(filter, pattern.error().message);
        if (text.rfind("$share/", 0) == 0) {
          Fail(filter, "rules are matched against the filter after `$share/<group>/`: write '" +
                           std::string(StripSharedSubscription(text)) + "' instead");
        }
        const auto index = static_cast<FilterTrie::RuleIndex>(policy_.rules.size());
        policy_.rules.push_back({effect, action, text, principals.text, Locate(filter)});
        for (PermissionSet* set : principals.sets) set->Add(kind, *pattern, index);
      }
    }
  }

  void LoadRevocation(const YAML::Node& revocation) {
    if (!revocation.IsMap()) Fail(revocation, "`revocation` must be a mapping");
    CheckKeys(revocation, {"crl", "denylist", "stale_crl", "refresh"});
    if (const YAML::Node crl = revocation["crl"]) {
      if (policy_.ca_path.empty()) {
        Fail(crl, "`revocation.crl` needs `ca` (CRL signatures are checked against it)");
      }
      for (const YAML::Node& file : StringList(crl, "crl")) {
        policy_.crl_paths.push_back(ResolvePath(file.Scalar()));
      }
    }
    if (const YAML::Node denylist = revocation["denylist"]) {
      policy_.denylist_path = ResolvePath(ScalarString(denylist, "denylist"));
    }
    if (const YAML::Node stale = revocation["stale_crl"]) {
      const std::string mode = ScalarString(stale, "stale_crl");
      if (mode == "deny") {
        policy_.stale_crl = StaleCrlMode::kDeny;
      } else if (mode == "warn") {
        policy_.stale_crl = StaleCrlMode::kWarn;
      } else {
        Fail(stale, "`stale_crl` must be deny or warn, not '" + mode + "'");
      }
    }
    if (const YAML::Node refresh = revocation["refresh"]) {
      policy_.refresh = ParseDuration(refresh);
    }
  }

  std::chrono::milliseconds ParseDuration(const YAML::Node& node) const {
    const std::string text = ScalarString(node, "refresh");
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    const std::string unit = text.substr(digits);
    if (digits == 0 || digits > 9) Fail(node, "`refresh` must look like 500ms, 5s, 2m or 1h");
    const long long n = std::stoll(text.substr(0, digits));
    long long ms;
    if (unit == "ms") {
      ms = n;
    } else if (unit == "s") {
      ms = n * 1000;
    } else if (unit == "m") {
      ms = n * 60'000;
    } else if (unit == "h") {
      ms = n * 3'600'000;
    } else {
      Fail(node, "`refresh` must look like 500ms, 5s, 2m or 1h");
    }
    if (ms < 10) Fail(node, "`refresh` must be at least 10ms");
    return std::chrono::milliseconds(ms);
  }

  std::string path_;
  Policy& policy_;
  std::unordered_map<std::string, size_t> group_index_;
};

}  // namespace

Result<std::shared_ptr<Policy>> Policy::Parse(std::string_view yaml, const std::string& path) {
  auto policy = std::make_shared<Policy>();
  policy->path = path;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    Loader loader(path, *policy);
    loader.Load(root);
  } catch (const LoadError& e) {
    return Error{e.what()};
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own syntax errors: put the location first like every other error.
    if (e.mark.is_null()) return Error{path + ": " + e.msg};
    return Error{path + ":" + std::to_string(e.mark.line + 1) + ":" +
                 std::to_string(e.mark.column + 1) + ": " + e.msg};
  } catch (const std::exception& e) {
    return Error{path + ": " + e.what()};
  }
  policy->for_all.Freeze();
  for (auto& set : policy->for_group) set.Freeze();
  for (auto& [id, set] : policy->for_id) set.Freeze();
  return policy;
}

Result<std::shared_ptr<Policy>> Policy::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot read: " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error{path + ": cannot read: " + std::strerror(errno)};
  return Parse(text.str(), path);
}

}  // namespace certguard
