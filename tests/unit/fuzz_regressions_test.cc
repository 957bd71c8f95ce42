// Inputs the fuzz targets (tests/fuzz) found to break something, each pinned here with the fix it
// needed, so that the unit tests catch a regression without running a fuzzer.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>

#include "shared/certificate_info.h"
#include "shared/filter_trie.h"
#include "shared/policy.h"
#include "shared/topic_filter.h"
#include "shared/topic_template.h"
#include "tests/support/test_pki.h"

namespace certguard {
namespace {

// fuzz_policy_parser: "billion laughs". Each anchor is a list of eight aliases of the previous
// one, so 12 short lines stand for 8^11 scalars; walking that tree kept Policy::Parse (and so a
// broker's reload thread) busy for hours. The loader now refuses a tree that is far larger than
// its text.
TEST(FuzzRegressions, PolicyAliasExpansionIsRefusedQuickly) {
  std::string yaml =
      "version: 1\nx0: &a0 [\"q\", \"q\", \"q\", \"q\", \"q\", \"q\", \"q\", \"q\"]\n";
  for (int i = 1; i < 12; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 8; ++k) yaml += (k == 0 ? "" : ", ") + prev;
    yaml += "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  const auto policy = Policy::Parse(yaml, "laughs.yaml");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(policy.ok());
  EXPECT_TRUE(policy.error().message.starts_with("laughs.yaml:")) << policy.error().message;
  EXPECT_NE(policy.error().message.find("too many entries"), std::string::npos)
      << policy.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// Deep nesting is refused by yaml-cpp's own depth limit (500 levels in 0.7: no stack overflow on
// a reload thread, checked under the fuzzer down to a 512 KB stack), but yaml-cpp calls it "bad
// file"; the author now gets where and what. Pinned so that a yaml-cpp without the limit is
// noticed here rather than in a broker.
TEST(FuzzRegressions, DeeplyNestedPolicyIsALocatedError) {
  std::string braces = "version: 1\nrules: ";
  for (int i = 0; i < 5000; ++i) braces += "{a: ";
  std::string dashes = "version: 1\nrules:\n";
  for (int i = 0; i < 5000; ++i) dashes += "- ";
  for (const std::string& yaml :
       {"version: 1\nrules: " + std::string(100000, '['), braces, dashes + "x\n"}) {
    const auto policy = Policy::Parse(yaml, "deep.yaml");
    ASSERT_FALSE(policy.ok());
    EXPECT_TRUE(policy.error().message.starts_with("deep.yaml:")) << policy.error().message;
    EXPECT_NE(policy.error().message.find("nested too deeply"), std::string::npos)
        << policy.error().message;
  }
}

// The cap must not refuse what aliases are for: one list of topics reused by a few rules.
TEST(FuzzRegressions, PolicyAliasReuseStillLoads) {
  const std::string yaml =
      "version: 1\n"
      "identity:\n  from: [{cn: \"{id}\"}]\n"
      "rules:\n"
      "  - for: all\n"
      "    allow:\n"
      "      publish: &topics [\"a/{id}\", \"b/{id}\", \"c/{id}/#\"]\n"
      "      subscribe: *topics\n"
      "  - for: { id: ops }\n"
      "    allow: { publish: *topics, subscribe: *topics }\n";
  const auto policy = Policy::Parse(yaml, "reuse.yaml");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy.value()->rules.size(), 12u);
}

// A frozen trie of `filters`; rule i is filters[i].
FilterTrie TrieOf(std::initializer_list<const char*> filters) {
  FilterTrie trie;
  FilterTrie::RuleIndex rule = 0;
  for (const char* filter : filters) trie.Insert(TopicPattern::Parse(filter).value(), rule++);
  trie.Freeze();
  return trie;
}

const PlaceholderValues kValues{"dev-1", "dev-1", "dev-1"};

// fuzz_topic_filter: the trie said `/#` overlaps `+`. Their only common "topic" is "" (one empty
// level: `/#` matches its parent, `+` matches an empty level), and "" is no topic, as
// FiltersOverlap knows. A deny rule `/#` thus refused a subscription to `+`.
TEST(FuzzRegressions, TrieOverlapDoesNotEndOnTheEmptyTopic) {
  EXPECT_FALSE(FiltersOverlap("/#", "+"));
  EXPECT_EQ(TrieOf({"/#"}).FindOverlappingFilter("+", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"+"}).FindOverlappingFilter("/#", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"/"}).FindOverlappingFilter("+", kValues), FilterTrie::kNoRule);
  // They do share topics as soon as a second level exists.
  EXPECT_EQ(TrieOf({"/#"}).FindOverlappingFilter("+/+", kValues), 0u);
  EXPECT_EQ(TrieOf({"+/#"}).FindOverlappingFilter("/#", kValues), 0u);
  EXPECT_EQ(TrieOf({"+/+"}).FindOverlappingFilter("/#", kValues), 0u);
}

// fuzz_topic_filter: the trie said `+/#` does not contain `#` ("only a '#' contains a '#'"). It
// does: `#` also matches its parent, but at the top that is no topic, so both match every topic
// but the `$` ones. The same holds one empty level down. An allow rule `+/#` refused `#`.
TEST(FuzzRegressions, TrieContainmentOfHashAtTheTop) {
  EXPECT_TRUE(FilterContains("+/#", "#"));
  EXPECT_EQ(TrieOf({"+/#"}).FindContainingFilter("#", kValues), 0u);
  EXPECT_EQ(TrieOf({"/+/#"}).FindContainingFilter("/#", kValues), 0u);
  EXPECT_EQ(TrieOf({"+/+/#"}).FindContainingFilter("/#", kValues), 0u);
  // Below a real topic the parent is a topic that `P/+/#` misses.
  EXPECT_FALSE(FilterContains("a/+/#", "a/#"));
  EXPECT_EQ(TrieOf({"a/+/#"}).FindContainingFilter("a/#", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"+/+/#"}).FindContainingFilter("+/#", kValues), FilterTrie::kNoRule);
}

// fuzz_subject_strings: the members of a multi-valued RDN came out of FromSubjectStrings in the
// order the string lists them, while a certificate holds them in DER order (and OpenSSL prints
// them reversed). So subject_dn flipped on every read-back, and EMQX's path disagreed with
// Mosquitto's on the same certificate. Both orders of the string now give the certificate's form.
TEST(FuzzRegressions, MultiValuedRdnReadsLikeTheCertificate) {
  std::ifstream in(
      std::string(CERTGUARD_SOURCE_DIR) + "/tests/fuzz/corpus/certificate_der/multivalued_rdn.der",
      std::ios::binary);
  const std::string der((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto cert = CertificateInfo::FromDer(der);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  ASSERT_EQ(cert.value().subject_dn, "UID=dev-2+CN=x,O=Example");

  for (const char* dn : {"UID=dev-2+CN=x,O=Example", "CN=x+UID=dev-2,O=Example"}) {
    SCOPED_TRACE(dn);
    const auto emqx = CertificateInfo::FromSubjectStrings("x", dn);
    ASSERT_TRUE(emqx.ok()) << emqx.error().message;
    EXPECT_EQ(emqx.value().subject_dn, cert.value().subject_dn);
    EXPECT_EQ(emqx.value().subject, cert.value().subject);
    const auto again = CertificateInfo::FromSubjectStrings("x", emqx.value().subject_dn);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again.value().subject_dn, cert.value().subject_dn);
  }
}

// fuzz_exhook_request (no log line may be split): a `dn` with a backslash before a line break
// or carriage return was refused with a message quoting the raw byte, so the exhook's log line for
// the refused client broke in two, the second part saying whatever the DN said. The fuzzer's
// input is kept as corpus/exhook_request/found_dn_escaped_carriage_return. Control bytes are now
// shown as \xNN.
TEST(FuzzRegressions, RefusedDnCannotBreakALogLine) {
  for (const char* dn : {"CN=a\\\n2026-11-24T00:00:00Z forged", "CN=a\\\rforged"}) {
    const auto info = CertificateInfo::FromSubjectStrings("a", dn);
    ASSERT_FALSE(info.ok());
    const std::string& message = info.error().message;
    EXPECT_EQ(message.find_first_of("\r\n"), std::string::npos) << message;
    EXPECT_TRUE(message.find("\\x0A") != std::string::npos ||
                message.find("\\x0D") != std::string::npos)
        << message;
  }
}

// fuzz_certificate_der: OpenSSL names uniqueIdentifier "uid" in subject_dn, and EMQX's `dn` path
// read "uid" as the keyword UID (userId), another attribute: on EMQX the certificate's subject
// gained a UID it does not have (a `subject: { UID: ... }` group could match) and its subject_dn
// changed. OpenSSL's exact short names now win over the case-insensitive keywords.
TEST(FuzzRegressions, UniqueIdentifierIsNotReadAsUserId) {
  testing::TestCa ca;
  for (const char* type : {"uid", "UID"}) {
    SCOPED_TRACE(type);
    testing::LeafSpec spec;
    spec.subject = {{type, "tom"}, {"CN", "dev-1"}};
    const auto issued = ca.Issue(spec);
    const auto cert = CertificateInfo::FromDer(issued.cert_der);
    ASSERT_TRUE(cert.ok()) << cert.error().message;
    EXPECT_EQ(cert.value().subject_dn, std::string("CN=dev-1,") + type + "=tom");
    const auto emqx = CertificateInfo::FromSubjectStrings("dev-1", cert.value().subject_dn);
    ASSERT_TRUE(emqx.ok()) << emqx.error().message;
    EXPECT_EQ(emqx.value().subject, cert.value().subject);
    EXPECT_EQ(emqx.value().subject_dn, cert.value().subject_dn);
  }
  // EMQX's upper-case spellings still mean what they meant.
  const auto upper = CertificateInfo::FromSubjectStrings("dev-1", "CN=dev-1,UID=tom,EMAIL=a@b");
  ASSERT_TRUE(upper.ok()) << upper.error().message;
  EXPECT_EQ(upper.value().subject_dn, "CN=dev-1,UID=tom,emailAddress=a@b");
}

// fuzz_subject_strings (CI, 142,261 executions in): an attribute type given as a numeric OID that
// OpenSSL knows by a short name with '_' in it (1.3.6.1.5.5.7.48.3, `ad_timestamping`) was
// accepted, but the subject_dn written for it did not parse back ("expected '=' after attribute
// type 'ad'"). The DN reader now takes '_' and '/', the two characters OpenSSL's short names use
// beyond RFC 4514's; names OpenSSL does not know are still refused.
TEST(FuzzRegressions, ShortNameWithUnderscoreReadsBack) {
  testing::TestCa ca;
  testing::LeafSpec spec;
  spec.subject = {{"1.3.6.1.5.5.7.48.3", "x"}, {"CN", "dev-1"}};
  const auto cert = CertificateInfo::FromDer(ca.Issue(spec).cert_der);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  ASSERT_EQ(cert.value().subject_dn, "CN=dev-1,ad_timestamping=x");

  // EMQX writes a type it has no keyword for as its OID; the policy author copies subject_dn.
  for (const char* dn : {"CN=dev-1,1.3.6.1.5.5.7.48.3=x", "CN=dev-1,ad_timestamping=x"}) {
    SCOPED_TRACE(dn);
    const auto emqx = CertificateInfo::FromSubjectStrings("dev-1", dn);
    ASSERT_TRUE(emqx.ok()) << emqx.error().message;
    EXPECT_EQ(emqx.value().subject, cert.value().subject);
    EXPECT_EQ(emqx.value().subject_dn, cert.value().subject_dn);
  }
  for (const char* dn : {"CN=dev-1,no_such_name=x", "CN=dev-1,a/b=x"}) {
    const auto refused = CertificateInfo::FromSubjectStrings("dev-1", dn);
    ASSERT_FALSE(refused.ok()) << dn;
    EXPECT_NE(refused.error().message.find("unknown attribute type"), std::string::npos)
        << refused.error().message;
  }
}

}  // namespace
}  // namespace certguard
