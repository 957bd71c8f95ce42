#pragma once

#include <string_view>
#include <vector>

// MQTT topic names and topic filters (MQTT 3.1.1 §4.7 / MQTT 5 §4.7), plus the two relations
// between filters that authorization needs: containment and overlap.
//
// The `$` rule: a filter whose first level is `+` or `#` never matches a topic whose first level
// starts with `$` (e.g. `$SYS/uptime`). Every function here honours it.
namespace certguard {

// Splits on '/'; "a//b" gives {"a", "", "b"}, "" gives {""}, "/" gives {"", ""}.
std::vector<std::string_view> SplitTopicLevels(std::string_view topic);

// A topic name: non-empty, no '+', '#' or NUL, at most 65535 bytes.
bool IsValidTopicName(std::string_view topic);

// A topic filter: non-empty, no NUL, '+' only as a whole level, '#' only as the whole last level,
// at most 65535 bytes.
bool IsValidTopicFilter(std::string_view filter);

// True iff `filter` matches `topic`. Both must be valid; invalid input gives false.
// Agrees with libmosquitto's mosquitto_topic_matches_sub on valid input.
bool TopicMatchesFilter(std::string_view topic, std::string_view filter);

// True iff every topic that `inner` matches is also matched by `outer`
// (`a/+/b` is contained in `a/#`; `a/#` is not contained in `a/+`). Invalid input gives false.
bool FilterContains(std::string_view outer, std::string_view inner);

// True iff some topic is matched by both filters. Invalid input gives true (callers use overlap
// to find denials, so doubt must count as an overlap).
bool FiltersOverlap(std::string_view a, std::string_view b);

// `$share/<group>/<filter>` is checked as <filter>. Returns the filter unchanged when it is not a
// shared subscription; returns an empty view when it is a malformed shared subscription
// (`$share/g` without a filter, or an empty or wildcard group name).
std::string_view StripSharedSubscription(std::string_view filter);

}  // namespace certguard
