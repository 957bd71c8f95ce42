// Policy YAML parser: any bytes give a policy or an error located in the file, never a throw or
// a crash (a broker's reload thread parses whatever the author saved). A policy that loads must
// decide consistently: every allow or deny names a rule of the right effect and kind whose filter,
// with this device's values substituted, really matches (checked with the direct topic functions,
// independent of the compiled tries). And the loader's YamlTree must be yaml-cpp's own node tree
// of the input, node for node, or the same syntax error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/policy.h"
#include "shared/topic_filter.h"
#include "tests/support/yaml_tree_difference.h"

namespace {

using certguard::Action;
using certguard::Decision;
using certguard::Effect;
using certguard::Reason;

// Large inputs only slow the fuzzer down; nothing in a policy needs more to go wrong.
constexpr size_t kMaxInput = 64 * 1024;

constexpr std::string_view kId = "dev-1";
constexpr std::string_view kCn = "dev-1";
constexpr std::string_view kClientId = "client-1";

[[noreturn]] void Fail() { __builtin_trap(); }

void Check(bool ok) {
  if (!ok) Fail();
}

std::string Substitute(std::string_view filter) {
  std::string out;
  for (size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '{') {
      const size_t close = filter.find('}', i);
      const std::string_view name = filter.substr(i + 1, close - i - 1);
      out += name == "id" ? kId : name == "cn" ? kCn : kClientId;
      i = close;
    } else {
      out.push_back(filter[i]);
    }
  }
  return out;
}

// A topic name that `filter` matches (wildcards filled in), to steer decisions onto real rules.
std::string TopicUnder(const std::string& filter) {
  std::string out;
  for (std::string_view level : certguard::SplitTopicLevels(filter)) {
    if (level == "+") level = "x";
    if (level == "#") level = "x/y";
    out += level;
    out.push_back('/');
  }
  out.pop_back();
  return out;
}

void CheckDecision(const certguard::Policy& policy, Action action, std::string_view topic,
                   const Decision& d) {
  if (action == Action::kUnsubscribe) {
    Check(d.allowed && d.reason == Reason::kUnsubscribeAlwaysAllowed);
    return;
  }
  const std::string_view filter =
      action == Action::kSubscribe ? certguard::StripSharedSubscription(topic) : topic;
  const bool valid = action == Action::kSubscribe
                         ? !filter.empty() && certguard::IsValidTopicFilter(filter)
                         : certguard::IsValidTopicName(topic);
  if (!valid) {
    Check(!d.allowed && d.reason == Reason::kInvalidTopic);
    return;
  }
  if (d.reason == Reason::kNoAllowRule) {
    Check(!d.allowed && d.rule == nullptr);
    return;
  }
  Check(d.rule != nullptr);
  Check(d.rule >= policy.rules.data() && d.rule < policy.rules.data() + policy.rules.size());
  const Action rule_action = action == Action::kPublish ? Action::kPublish : Action::kSubscribe;
  Check(d.rule->action == rule_action);
  const std::string rule_filter = Substitute(d.rule->filter);
  if (d.reason == Reason::kAllowedByRule) {
    Check(d.allowed && d.rule->effect == Effect::kAllow);
    Check(action == Action::kSubscribe ? certguard::FilterContains(rule_filter, filter)
                                       : certguard::TopicMatchesFilter(topic, rule_filter));
  } else {
    Check(!d.allowed && d.reason == Reason::kDeniedByRule && d.rule->effect == Effect::kDeny);
    Check(action == Action::kSubscribe ? certguard::FiltersOverlap(rule_filter, filter)
                                       : certguard::TopicMatchesFilter(topic, rule_filter));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return -1;  // not added to the corpus
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Aliases can make cycles; a walk of a few nodes per input byte sees every node of a tree
  // without them.
  if (certguard::testing::YamlTreeDifference(std::string(text), 4 * size + 64)) Fail();
  auto policy = certguard::Policy::Parse(text, "fuzz.yaml");
  if (!policy.ok()) {
    Check(policy.error().message.starts_with("fuzz.yaml"));
    return 0;
  }
  const certguard::Policy& p = *policy.value();

  static const certguard::CertificateInfo cert = [] {
    auto info = certguard::CertificateInfo::FromSubjectStrings(kCn, "CN=dev-1");
    if (!info.ok()) Fail();
    return info.value();
  }();
  (void)p.identity.Resolve(cert);
  const auto permissions = p.PermissionsFor(kId, cert);
  const certguard::PlaceholderValues values{kId, kCn, kClientId};

  std::vector<std::string> topics = {"sensors/dev-1/telemetry",
                                     "devices/dev-1/commands/#",
                                     "$SYS/broker/uptime",
                                     "#",
                                     "+/+",
                                     "$share/g/a/b",
                                     "a//b"};
  for (size_t i = 0; i < p.rules.size() && i < 16; ++i) {
    const std::string filter = Substitute(p.rules[i].filter);
    topics.push_back(filter);
    topics.push_back(TopicUnder(filter));
  }
  for (const std::string& topic : topics) {
    for (Action action :
         {Action::kPublish, Action::kSubscribe, Action::kReceive, Action::kUnsubscribe}) {
      CheckDecision(p, action, topic, p.Authorize(action, permissions, values, topic));
    }
  }
  return 0;
}
