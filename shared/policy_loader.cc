// Policy format version 1 (design.md): YAML → compiled Policy. Every error names file:line:col.
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/exceptions.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "shared/policy.h"
#include "shared/topic_filter.h"
#include "shared/yaml_tree.h"

namespace certguard {
namespace {

// Thrown inside the loader only; Policy::Parse turns it into an Error.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Loader {
  using Node = YamlTree::Node;

 public:
  Loader(std::string path, std::string_view source, Policy& policy)
      : path_(std::move(path)), source_(source), policy_(policy) {}

  void Load(const Node root) {
    // An empty (or comments-only) file has no node to point at; 1:1 still tells the author
    // where to start.
    if (!root || root.IsNull()) {
      Fail(YAML::Mark(),
           "the policy is empty: a policy is a YAML mapping with `version`, "
           "`identity` and `rules`");
    }
    // YAML aliases let a few hundred bytes stand for an exponentially large tree (`&a [x, x]`,
    // `&b [*a, *a]`, ...), which would keep a broker's reload thread busy for hours. Without
    // aliases a node takes at least one byte of source, so a walk that visits more nodes than a
    // generous multiple of the file's size is an expansion; this first walk caps every later one.
    size_t nodes_left = 8 * source_.size() + 1024;
    CheckQuotesClosed(root, nodes_left);
    if (!root.IsMap())
      Fail(root, "a policy is a YAML mapping with `version`, `identity` and `rules`");
    CheckKeys(root, {"version", "ca", "identity", "groups", "rules", "revocation"});
    const Node version = Require(root, "version");
    if (!version.IsScalar() || version.Scalar() != "1") {
      Fail(version, "unsupported policy version '" + ScalarOr(version, "?") +
                        "' (this certguard reads version 1)");
    }
    if (const Node ca = root["ca"]) {
      policy_.ca_path = ResolvePath(ScalarString(ca, "ca"));
      policy_.ca_location = Locate(ca);
    }
    LoadIdentity(Require(root, "identity"));
    if (const Node groups = root["groups"]) LoadGroups(groups);
    LoadRules(Require(root, "rules"));
    if (const Node revocation = root["revocation"]) LoadRevocation(revocation);
  }

 private:
  // Every message carries line and column, so that an editor can jump to it; where yaml-cpp has
  // no mark (a node it synthesised) the start of the file is the best we can say.
  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& message) const {
    const int line = mark.is_null() ? 0 : mark.line;
    const int column = mark.is_null() ? 0 : mark.column;
    throw LoadError(path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) +
                    ": " + message);
  }
  [[noreturn]] void Fail(const Node node, const std::string& message) const {
    Fail(node.Mark(), message);
  }

  // Points at byte `offset` of a scalar's value rather than at the scalar, when the source shows
  // the value's first `offset` bytes verbatim (plain or quoted, no escapes before the spot), so
  // that `"a/{id/b}"` is reported at the `{`. Otherwise the scalar's own position.
  YAML::Mark MarkInside(const Node scalar, size_t offset) const {
    YAML::Mark mark = scalar.Mark();
    if (mark.is_null() || mark.pos < 0 || !scalar.IsScalar()) return mark;
    const std::string_view value = scalar.Scalar();
    if (offset > value.size()) return mark;
    size_t start = static_cast<size_t>(mark.pos);
    if (start < source_.size() && (source_[start] == '"' || source_[start] == '\'')) ++start;
    const std::string_view prefix = value.substr(0, offset);
    if (source_.substr(start, offset) != prefix || prefix.find('\n') != std::string_view::npos) {
      return mark;
    }
    mark.column += static_cast<int>(start - static_cast<size_t>(mark.pos) + offset);
    return mark;
  }

  // No value in a policy (id, template, filter, path) spans lines, so a quoted one that runs past
  // its line has lost its closing quote. yaml-cpp accepts it and swallows what follows, which
  // would otherwise surface as a baffling error about some later key.
  void CheckQuotesClosed(const Node node, size_t& nodes_left) const {
    if (nodes_left-- == 0) {
      Fail(node, "the policy expands to too many entries (aliases of aliases?)");
    }
    if (node.IsScalar()) {
      const YAML::Mark mark = node.Mark();
      if (mark.is_null() || mark.pos < 0) return;
      const size_t start = static_cast<size_t>(mark.pos);
      if (start >= source_.size() || (source_[start] != '"' && source_[start] != '\'')) return;
      const char quote = source_[start];
      for (size_t i = start + 1; i < source_.size(); ++i) {
        const char c = source_[i];
        if (c == '\n')
          Fail(mark, "quoted string is not closed on its line (missing closing quote?)");
        if (quote == '"' && c == '\\') {
          ++i;
        } else if (c == quote) {
          if (quote == '\'' && i + 1 < source_.size() && source_[i + 1] == '\'') {
            ++i;  // '' is an escaped quote inside a single-quoted string
            continue;
          }
          return;
        }
      }
      return;
    }
    if (node.IsSequence()) {
      for (const Node item : node.items()) CheckQuotesClosed(item, nodes_left);
    } else if (node.IsMap()) {
      for (const auto& [key, value] : node.pairs()) {
        CheckQuotesClosed(key, nodes_left);
        CheckQuotesClosed(value, nodes_left);
      }
    }
  }

  SourceLocation Locate(const Node node) const {
    const YAML::Mark mark = node.Mark();
    return {path_, mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : mark.column + 1};
  }

  static std::string ScalarOr(const Node node, const std::string& fallback) {
    return node.IsScalar() ? std::string(node.Scalar()) : fallback;
  }

  void CheckKeys(const Node map, std::initializer_list<std::string_view> known) const {
    // yaml-cpp keeps both copies of a repeated key and `map[key]` sees only one, so a second
    // `deny:` in a rule would be dropped without a word.
    std::unordered_map<std::string, YAML::Mark> seen;
    for (const auto& [key_node, value] : map.pairs()) {
      const std::string key = ScalarOr(key_node, "");
      if (const auto [first, inserted] = seen.emplace(key, key_node.Mark()); !inserted) {
        Fail(key_node, "duplicate key '" + key + "' (first at line " +
                           std::to_string(first->second.line + 1) + ")");
      }
      bool ok = false;
      std::string list;
      for (std::string_view k : known) {
        ok = ok || k == key;
        list += (list.empty() ? "" : ", ") + std::string(k);
      }
      if (!ok) Fail(key_node, "unknown key '" + key + "' (expected one of: " + list + ")");
    }
  }

  Node Require(const Node map, const std::string& key) const {
    const Node node = map[key];
    if (!node) Fail(map, "missing required key '" + key + "'");
    if (node.IsNull()) {
      // Present but empty (`from:` with nothing under it, often an indentation slip): point at
      // the key, which the author can see, rather than at the enclosing mapping.
      for (const auto& [key_node, value] : map.pairs()) {
        if (ScalarOr(key_node, "") == key) Fail(key_node, "`" + key + "` has no value");
      }
      Fail(map, "`" + key + "` has no value");
    }
    return node;
  }

  std::string ScalarString(const Node node, const std::string& what) const {
    if (!node.IsScalar()) Fail(node, "`" + what + "` must be a string");
    return std::string(node.Scalar());
  }

  // A string or a list of strings.
  std::vector<Node> StringList(const Node node, const std::string& what) const {
    std::vector<Node> out;
    if (node.IsScalar()) {
      out.push_back(node);
    } else if (node.IsSequence()) {
      for (const Node item : node.items()) {
        if (!item.IsScalar()) Fail(item, "`" + what + "` entries must be strings");
        out.push_back(item);
      }
    } else {
      Fail(node, "`" + what + "` must be a string or a list of strings");
    }
    return out;
  }

  bool Bool(const Node node, const std::string& what) const {
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

  void LoadIdentity(const Node identity) {
    if (!identity.IsMap()) Fail(identity, "`identity` must be a mapping with `from`");
    CheckKeys(identity, {"from", "client_id", "require_issuer"});
    const Node from = Require(identity, "from");
    if (!from.IsSequence() || from.size() == 0) {
      Fail(from, "`identity.from` must be a non-empty list such as [{cn: \"{id}\"}]");
    }
    for (const Node entry : from.items()) {
      if (!entry.IsMap() || entry.size() != 1) {
        Fail(entry, "each `identity.from` entry is one `source: template` pair, e.g. cn: \"{id}\"");
      }
      const auto [key, value] = *entry.pairs().begin();
      const std::string name = ScalarOr(key, "");
      const auto source = ParseIdentitySource(name);
      if (!source) {
        Fail(key, "unknown identity source '" + name +
                      "' (expected one of: cn, san_dns, san_uri, san_email, san_ip, "
                      "subject, fingerprint)");
      }
      auto pattern = IdentityTemplate::Parse(ScalarString(value, name));
      if (!pattern) Fail(value, pattern.error().message);
      policy_.identity.Add(*source, std::move(pattern).value());
    }
    if (const Node client_id = identity["client_id"]) {
      const std::string mode = ScalarString(client_id, "client_id");
      if (mode == "must_match") {
        policy_.client_id_mode = ClientIdMode::kMustMatch;
      } else if (mode == "any") {
        policy_.client_id_mode = ClientIdMode::kAny;
      } else {
        Fail(client_id, "`client_id` must be must_match or any, not '" + mode + "'");
      }
    }
    if (const Node require_issuer = identity["require_issuer"]) {
      policy_.require_issuer = Bool(require_issuer, "require_issuer");
      if (policy_.require_issuer && policy_.ca_path.empty()) {
        Fail(require_issuer, "`require_issuer: true` needs `ca` (the CA certificates to check)");
      }
    }
  }

  void LoadGroups(const Node groups) {
    if (!groups.IsMap()) Fail(groups, "`groups` must be a mapping of group names");
    for (const auto& [name, def] : groups.pairs()) {
      GroupDefinition group;
      group.name = ScalarString(name, "group name");
      if (group.name.empty() || group.name == "all") {
        Fail(name, "'" + group.name + "' cannot name a group (`all` means every device)");
      }
      if (group_index_.count(group.name)) Fail(name, "group '" + group.name + "' defined twice");
      if (!def.IsMap())
        Fail(def, "group '" + group.name + "' must be a mapping with `id` or `subject`");
      CheckKeys(def, {"id", "subject"});
      if (const Node ids = def["id"]) {
        for (const Node id : StringList(ids, "id")) {
          const std::string text(id.Scalar());
          if (text.empty()) Fail(id, "an id pattern cannot be empty");
          (text.find('*') == std::string::npos ? group.exact_ids : group.id_globs).push_back(text);
        }
      }
      if (const Node subject = def["subject"]) {
        if (!subject.IsMap() || subject.size() == 0) {
          Fail(subject, "`subject` must map attribute names to values, e.g. { OU: \"platform\" }");
        }
        for (const auto& [attribute, value] : subject.pairs()) {
          group.subject.push_back(
              {ScalarString(attribute, "subject attribute"), ScalarString(value, "subject value")});
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

  void AddPrincipal(const Node item, Principals& out) {
    if (item.IsScalar()) {
      const std::string name(item.Scalar());
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
      const Node ids = Require(item, "id");
      for (const Node id : StringList(ids, "id")) {
        const std::string text(id.Scalar());
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

  void LoadRules(const Node rules) {
    if (!rules.IsSequence()) Fail(rules, "`rules` must be a list");
    for (const Node rule : rules.items()) {
      if (!rule.IsMap()) Fail(rule, "each rule is a mapping with `for` and `allow` and/or `deny`");
      CheckKeys(rule, {"for", "allow", "deny"});
      const Node for_node = Require(rule, "for");
      Principals principals;
      if (for_node.IsSequence()) {
        if (for_node.size() == 0) Fail(for_node, "`for` cannot be an empty list");
        for (const Node item : for_node.items()) AddPrincipal(item, principals);
        principals.text = "[" + principals.text + "]";
      } else {
        AddPrincipal(for_node, principals);
      }
      if (!rule["allow"] && !rule["deny"]) Fail(rule, "a rule needs `allow` or `deny`");
      if (const Node allow = rule["allow"]) LoadEntries(allow, Effect::kAllow, principals);
      if (const Node deny = rule["deny"]) LoadEntries(deny, Effect::kDeny, principals);
    }
  }

  void LoadEntries(const Node entries, Effect effect, const Principals& principals) {
    const std::string what = effect == Effect::kAllow ? "allow" : "deny";
    if (!entries.IsMap()) Fail(entries, "`" + what + "` must map publish/subscribe to filters");
    CheckKeys(entries, {"publish", "subscribe"});
    for (const auto& [key, value] : entries.pairs()) {
      const Action action = key.Scalar() == "publish" ? Action::kPublish : Action::kSubscribe;
      PermissionSet::Kind kind;
      if (action == Action::kPublish) {
        kind =
            effect == Effect::kAllow ? PermissionSet::kAllowPublish : PermissionSet::kDenyPublish;
      } else {
        kind = effect == Effect::kAllow ? PermissionSet::kAllowSubscribe
                                        : PermissionSet::kDenySubscribe;
      }
      for (const Node filter : StringList(value, std::string(key.Scalar()))) {
        const std::string text(filter.Scalar());
        if (text.empty()) Fail(filter, "a topic filter cannot be empty");
        TopicPattern::ParseError where;
        auto pattern = TopicPattern::Parse(text, &where);
        if (!pattern) {
          // Placeholder errors give the offset of their brace; only the whole-filter check
          // reports 0 for a fault that lies further in.
          const bool at_brace = text[0] == '{' || text[0] == '}';
          const size_t offset =
              where.offset != 0 || at_brace ? where.offset : InvalidFilterOffset(text);
          Fail(MarkInside(filter, offset), pattern.error().message);
        }
        if (text.rfind("$share/", 0) == 0) {
          Fail(MarkInside(filter, 0),
               "rules are matched against the filter after `$share/<group>/`: write '" +
                   std::string(StripSharedSubscription(text)) + "' instead");
        }
        const auto index = static_cast<FilterTrie::RuleIndex>(policy_.rules.size());
        policy_.rules.push_back({effect, action, text, principals.text, Locate(filter)});
        for (PermissionSet* set : principals.sets) set->Add(kind, *pattern, index);
      }
    }
  }

  void LoadRevocation(const Node revocation) {
    if (!revocation.IsMap()) Fail(revocation, "`revocation` must be a mapping");
    CheckKeys(revocation, {"crl", "denylist", "stale_crl", "refresh"});
    if (const Node crl = revocation["crl"]) {
      if (policy_.ca_path.empty()) {
        Fail(crl, "`revocation.crl` needs `ca` (CRL signatures are checked against it)");
      }
      for (const Node file : StringList(crl, "crl")) {
        policy_.crl_paths.push_back(ResolvePath(std::string(file.Scalar())));
      }
    }
    if (const Node denylist = revocation["denylist"]) {
      policy_.denylist_path = ResolvePath(ScalarString(denylist, "denylist"));
    }
    if (const Node stale = revocation["stale_crl"]) {
      const std::string mode = ScalarString(stale, "stale_crl");
      if (mode == "deny") {
        policy_.stale_crl = StaleCrlMode::kDeny;
      } else if (mode == "warn") {
        policy_.stale_crl = StaleCrlMode::kWarn;
      } else {
        Fail(stale, "`stale_crl` must be deny or warn, not '" + mode + "'");
      }
    }
    if (const Node refresh = revocation["refresh"]) {
      policy_.refresh = ParseDuration(refresh);
    }
  }

  std::chrono::milliseconds ParseDuration(const Node node) const {
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
    // Far larger values overflow the clocks the watcher waits on, and would mean "never".
    if (ms > 86'400'000) Fail(node, "`refresh` must be at most 24h");
    return std::chrono::milliseconds(ms);
  }

  // The first byte of a filter's offending wildcard: '+' or '#' sharing a level, or a '#' level
  // that is not the last. 0 (the whole filter) when the fault is elsewhere.
  static size_t InvalidFilterOffset(std::string_view text) {
    size_t level_start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i < text.size() && text[i] != '/') continue;
      const std::string_view level = text.substr(level_start, i - level_start);
      const size_t wildcard = level.find_first_of("+#");
      if (wildcard != std::string_view::npos) {
        if (level.size() != 1) return level_start + wildcard;
        if (level == "#" && i != text.size()) return level_start;
      }
      level_start = i + 1;
    }
    return 0;
  }

  std::string path_;
  std::string_view source_;
  Policy& policy_;
  std::unordered_map<std::string, size_t> group_index_;
};

// yaml-cpp reports where it gave up, which for the two commonest slips is not where the author
// went wrong: a tab in the indentation surfaces as "illegal map value" at a later colon, and an
// unclosed `[` or `{` as "end of ... flow not found" wherever the file ends. Point at the cause.
std::string DescribeSyntaxError(std::string_view text, const std::string& path,
                                const YAML::Exception& e) {
  const auto at = [&](size_t line, size_t column, const std::string& message) {
    return path + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
           message;
  };
  const size_t error_line = e.mark.is_null() ? SIZE_MAX : static_cast<size_t>(e.mark.line);

  // Indentation is the run of spaces and tabs before a line's first character; YAML allows
  // only spaces there. Lines after the failure cannot have caused it.
  size_t line = 0;
  for (size_t start = 0; start < text.size() && line <= error_line; ++line) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view content = text.substr(start, end - start);
    const size_t first = content.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && content[first] != '#') {
      const size_t tab = content.substr(0, first).find('\t');
      if (tab != std::string_view::npos) {
        return at(line, tab, "tab in indentation: YAML indents with spaces only (" + e.msg + ")");
      }
    }
    start = end + 1;
  }

  const bool unclosed_flow =
      e.msg == YAML::ErrorMsg::END_OF_SEQ_FLOW || e.msg == YAML::ErrorMsg::END_OF_MAP_FLOW;
  if (!e.mark.is_null() && (unclosed_flow || e.msg == YAML::ErrorMsg::FLOW_END)) {
    // Brackets outside quotes and comments, up to where the parser stopped; the innermost one
    // still open is the one never closed.
    struct Open {
      char bracket;
      size_t line, column;
    };
    std::vector<Open> open;
    size_t row = 0, column = 0;
    char quote = 0;
    Open quote_at{};
    bool comment = false;
    const size_t stop = std::min(text.size(), static_cast<size_t>(std::max(e.mark.pos, 0)));
    for (size_t i = 0; i < stop; ++i, ++column) {
      const char c = text[i];
      if (c == '\n') {
        ++row;
        column = static_cast<size_t>(-1);
        comment = false;
        continue;
      }
      if (comment) continue;
      if (quote != 0) {
        if (quote == '"' && c == '\\') {
          ++i, ++column;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (c == '"' || c == '\'') {
        quote = c;
        quote_at = {c, row, column};
      } else if (c == '#' &&
                 (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
        comment = true;
      } else if (c == '[' || c == '{') {
        open.push_back({c, row, column});
      } else if ((c == ']' || c == '}') && !open.empty()) {
        open.pop_back();
      }
    }
    // A string left open swallows the brackets that would have closed the flow.
    if (quote != 0) {
      return at(quote_at.line, quote_at.column,
                std::string("quoted string starting here is never closed (") + e.msg + ")");
    }
    // "illegal flow end" at a ']' that meets an open '{' (or '}' and '['): the '{' lacks its '}'.
    const char closer = stop < text.size() ? text[stop] : '\0';
    if (!unclosed_flow && open.empty() && quote == 0 && (closer == ']' || closer == '}')) {
      return at(static_cast<size_t>(e.mark.line), static_cast<size_t>(e.mark.column),
                std::string("'") + closer + "' closes nothing (" + e.msg + ")");
    }
    if (!unclosed_flow && !open.empty() && (closer == ']' || closer == '}')) {
      const Open& last = open.back();
      if ((last.bracket == '[') != (closer == ']')) {
        return at(last.line, last.column,
                  std::string("'") + last.bracket + "' is never closed: '" + closer + "' at line " +
                      std::to_string(e.mark.line + 1) + " column " +
                      std::to_string(e.mark.column + 1) + " closes it (" + e.msg + ")");
      }
    }
    if (unclosed_flow && !open.empty()) {
      const Open& last = open.back();
      return at(last.line, last.column,
                std::string("'") + last.bracket + "' is never closed (" + e.msg + ")");
    }
  }

  if (e.mark.is_null()) return path + ":1:1: " + e.msg;
  std::string message = e.msg;
  if (e.msg == YAML::ErrorMsg::END_OF_MAP || e.msg == YAML::ErrorMsg::END_OF_SEQ) {
    message += " (check the indentation of this line against the lines above it)";
  }
  return at(static_cast<size_t>(e.mark.line), static_cast<size_t>(e.mark.column), message);
}

}  // namespace

Result<std::shared_ptr<Policy>> Policy::Parse(std::string_view yaml, const std::string& path) {
  auto policy = std::make_shared<Policy>();
  policy->path = path;
  try {
    // yaml-cpp parses; YamlTree keeps what it finds in a few flat arrays. Not on a thread of its
    // own (in a malloc arena apart from the policy): the flat tree leaves no holes between the
    // policy's allocations, and a broker that loaded a 100,000-device policy kept less RSS with
    // the tree built here (+228 MB) than on a thread apart (+236 MB).
    std::optional<YamlTree> tree;
    try {
      tree.emplace(YamlTree::Parse(yaml));
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp stops there, so that nesting cannot overflow the stack, but calls it "bad file".
      const YAML::Mark& mark = e.mark;
      return Error{path + ":" + std::to_string(mark.is_null() ? 1 : mark.line + 1) + ":" +
                   std::to_string(mark.is_null() ? 1 : mark.column + 1) +
                   ": lists or mappings nested too deeply (" + std::to_string(e.depth()) +
                   " levels)"};
    } catch (const YAML::Exception& e) {
      return Error{DescribeSyntaxError(yaml, path, e)};
    }
    Loader loader(path, yaml, *policy);
    loader.Load(tree->root());
  } catch (const LoadError& e) {
    return Error{e.what()};
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return Error{path + ":1:1: " + e.msg};
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
  // An ifstream opens a directory and reads nothing, which would pass for an empty policy.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return Error{path + ": cannot read: " + std::strerror(EISDIR)};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot read: " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error{path + ": cannot read: " + std::strerror(errno)};
  return Parse(text.str(), path);
}

}  // namespace certguard
