// `certguard lint` on broken policies, through the real binary: every mistake must exit 2 and
// name the exact spot (file:line:col for the policy, file or file:line for the files it names),
// since that line is all a policy author or an operator reloading a broker gets to see.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_pki.h"

namespace certguard {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;
using testing::TestCa;

struct ErrorCase {
  const char* name;
  // Written to <name>.yaml; nullptr: no policy file at all.
  const char* policy;
  // Where the message must point: "LINE:COL" in the policy, or in `file` when that is set
  // ("LINE" or "" for files that are not YAML).
  const char* where;
  const char* phrase;  // a key part of the message
  const char* file = nullptr;
};

// Policy prefixes. Line 1 `version`, lines 2-3 a CN identity, line 4 onwards the case.
#define CG_IDENTITY "version: 1\nidentity:\n  from: [{cn: \"{id}\"}]\n"
// Line 1 `version`, line 2 `ca`, lines 3-4 identity, line 5 empty rules, line 6 onwards the case.
#define CG_WITH_CA "version: 1\nca: ca.crt\nidentity:\n  from: [{cn: \"{id}\"}]\nrules: []\n"

const ErrorCase kCases[] = {
    // --- YAML syntax: yaml-cpp's own position is often after the mistake; ours is on it.
    {"yaml_unclosed_bracket", "version: 1\nidentity:\n  from: [{cn: \"{id}\"}\nrules: []\n", "3:9",
     "'[' is never closed"},
    {"yaml_unclosed_brace", "version: 1\nidentity:\n  from: [{cn: \"{id}\"]\nrules: []\n", "3:10",
     "'{' is never closed"},
    {"yaml_stray_bracket", "version: 1\nidentity:\n  from: [{cn: \"{id}\"}]]\nrules: []\n", "3:23",
     "']' closes nothing"},
    {"yaml_unclosed_quote", "version: 1\nidentity:\n  from: [{cn: \"{id}}]\nrules: []\n", "3:15",
     "quoted string starting here is never closed"},
    // yaml-cpp lets a double-quoted string run on to the end of the file, swallowing the keys
    // after it; without a check the author hears only that `rules` is missing.
    {"yaml_unclosed_quote_swallowing_the_rest",
     "version: 1\nidentity:\n  from:\n    - cn: \"{id}\nrules: []\n", "4:11",
     "quoted string is not closed on its line"},
    {"yaml_bad_indentation",
     "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\n   client_id: any\nrules: []\n", "5:4",
     "check the indentation"},
    {"yaml_tab_indenting_key", "version: 1\nidentity:\n\tfrom: [{cn: \"{id}\"}]\nrules: []\n",
     "3:1", "tab in indentation"},
    {"yaml_tab_indenting_list_entry",
     "version: 1\nidentity:\n  from:\n  \t- cn: \"{id}\"\nrules: []\n", "4:3",
     "tab in indentation"},

    // --- The document.
    {"empty_file", "", "1:1", "the policy is empty"},
    {"comments_only", "# a policy, some day\n\n", "1:1", "the policy is empty"},
    {"top_level_list", "- version: 1\n- rules: []\n", "1:1", "a policy is a YAML mapping"},
    {"top_level_scalar", "version 1\n", "1:1", "a policy is a YAML mapping"},
    {"missing_version", "identity:\n  from: [{cn: \"{id}\"}]\nrules: []\n", "1:1",
     "missing required key 'version'"},
    {"version_without_value", "version:\nidentity:\n  from: [{cn: \"{id}\"}]\nrules: []\n", "1:1",
     "`version` has no value"},
    {"version_2", "version: 2\nidentity:\n  from: [{cn: \"{id}\"}]\nrules: []\n", "1:10",
     "unsupported policy version '2'"},
    {"unknown_top_level_key", CG_IDENTITY "rules: []\npolicies: []\n", "5:1",
     "unknown key 'policies'"},
    {"duplicate_top_level_key", CG_IDENTITY "rules: []\nrules: []\n", "5:1",
     "duplicate key 'rules' (first at line 4)"},
    {"missing_rules", CG_IDENTITY, "1:1", "missing required key 'rules'"},
    {"rules_not_a_list", CG_IDENTITY "rules:\n  for: all\n", "5:3", "`rules` must be a list"},

    // --- identity
    {"missing_identity", "version: 1\nrules: []\n", "1:1", "missing required key 'identity'"},
    {"identity_not_a_mapping", "version: 1\nidentity: cn\nrules: []\n", "2:11",
     "`identity` must be a mapping"},
    {"unknown_identity_key", CG_IDENTITY "  clientid: any\nrules: []\n", "4:3",
     "unknown key 'clientid'"},
    {"missing_identity_from", "version: 1\nidentity:\n  client_id: any\nrules: []\n", "3:3",
     "missing required key 'from'"},
    {"identity_from_without_value", "version: 1\nidentity:\n  from:\nrules: []\n", "3:3",
     "`from` has no value"},
    {"identity_from_empty_list", "version: 1\nidentity:\n  from: []\nrules: []\n", "3:9",
     "must be a non-empty list"},
    {"identity_from_not_a_list", "version: 1\nidentity:\n  from: cn\nrules: []\n", "3:9",
     "must be a non-empty list"},
    {"identity_entry_with_two_sources",
     "version: 1\nidentity:\n  from:\n    - { cn: \"{id}\", san_dns: \"{id}\" }\nrules: []\n",
     "4:7", "one `source: template` pair"},
    {"unknown_identity_source", "version: 1\nidentity:\n  from:\n    - common_name: \"{id}\"\n",
     "4:7", "unknown identity source 'common_name'"},
    {"template_without_id", "version: 1\nidentity:\n  from:\n    - cn: \"device\"\nrules: []\n",
     "4:11", "exactly one {id}"},
    {"template_with_two_ids",
     "version: 1\nidentity:\n  from:\n    - san_dns: \"{id}.{id}.example.com\"\nrules: []\n",
     "4:16", "exactly one {id}"},
    {"template_with_unknown_placeholder",
     "version: 1\nidentity:\n  from:\n    - cn: \"{id}-{cn}\"\nrules: []\n", "4:11",
     "unknown placeholder {cn}"},
    {"template_unclosed_brace", "version: 1\nidentity:\n  from:\n    - cn: \"{id\"\nrules: []\n",
     "4:11", "unclosed {"},
    {"bad_client_id_mode", CG_IDENTITY "  client_id: exact\nrules: []\n", "4:14",
     "`client_id` must be must_match or any, not 'exact'"},
    {"require_issuer_not_bool", CG_IDENTITY "  require_issuer: yes\nrules: []\n", "4:19",
     "`require_issuer` must be true or false, not 'yes'"},
    {"require_issuer_without_ca", CG_IDENTITY "  require_issuer: true\nrules: []\n", "4:19",
     "`require_issuer: true` needs `ca`"},

    // --- groups
    {"group_without_id_or_subject", CG_IDENTITY "groups:\n  sensors: {}\nrules: []\n", "5:12",
     "group 'sensors' needs `id` or `subject`"},
    {"group_named_all", CG_IDENTITY "groups:\n  all: { id: \"s-*\" }\nrules: []\n", "5:3",
     "'all' cannot name a group"},
    {"group_defined_twice",
     CG_IDENTITY "groups:\n  s: { id: \"s-*\" }\n  s: { id: \"t-*\" }\nrules: []\n", "6:3",
     "group 's' defined twice"},
    {"unknown_group_key", CG_IDENTITY "groups:\n  s: { id: \"s-*\", ou: x }\nrules: []\n", "5:19",
     "unknown key 'ou' (expected one of: id, subject)"},
    {"group_empty_id_pattern", CG_IDENTITY "groups:\n  s: { id: [\"a\", \"\"] }\nrules: []\n",
     "5:18", "an id pattern cannot be empty"},
    {"group_subject_not_a_mapping", CG_IDENTITY "groups:\n  ops: { subject: OU }\nrules: []\n",
     "5:19", "`subject` must map attribute names to values"},

    // --- rules
    {"rule_without_for", CG_IDENTITY "rules:\n  - allow: { publish: [a] }\n", "5:5",
     "missing required key 'for'"},
    {"unknown_group_in_for", CG_IDENTITY "rules:\n  - for: sensors\n    allow: { publish: [a] }\n",
     "5:10", "unknown group 'sensors'"},
    {"unknown_group_in_for_list",
     CG_IDENTITY "rules:\n  - for: [all, sensors]\n    allow: { publish: [a] }\n", "5:16",
     "unknown group 'sensors'"},
    {"for_empty_list", CG_IDENTITY "rules:\n  - for: []\n    allow: { publish: [a] }\n", "5:10",
     "`for` cannot be an empty list"},
    {"for_glob_id",
     CG_IDENTITY "rules:\n  - for: { id: \"sensor-*\" }\n    allow: { publish: [a] }\n", "5:16",
     "takes exact ids; put globs in a group"},
    {"for_id_with_slash",
     CG_IDENTITY "rules:\n  - for: { id: \"a/b\" }\n    allow: { publish: [a] }\n", "5:16",
     "'a/b' is not a device id"},
    {"rule_without_allow_or_deny", CG_IDENTITY "rules:\n  - for: all\n", "5:5",
     "a rule needs `allow` or `deny`"},
    {"unknown_rule_key", CG_IDENTITY "rules:\n  - for: all\n    alow: { publish: [a] }\n", "6:5",
     "unknown key 'alow' (expected one of: for, allow, deny)"},
    {"duplicate_deny_in_rule",
     CG_IDENTITY "rules:\n  - for: all\n    deny: { publish: [a] }\n    allow: { publish: [b] }\n"
                 "    deny: { publish: [c] }\n",
     "8:5", "duplicate key 'deny' (first at line 6)"},
    {"allow_not_a_mapping", CG_IDENTITY "rules:\n  - for: all\n    allow: [\"a/b\"]\n", "6:12",
     "`allow` must map publish/subscribe to filters"},
    {"unknown_action", CG_IDENTITY "rules:\n  - for: all\n    allow:\n      publsh: [\"a\"]\n",
     "7:7", "unknown key 'publsh' (expected one of: publish, subscribe)"},
    {"filter_not_a_string",
     CG_IDENTITY "rules:\n  - for: all\n    allow:\n      publish: [{a: b}]\n", "7:17",
     "`publish` entries must be strings"},
    {"filter_empty", CG_IDENTITY "rules:\n  - for: all\n    allow:\n      publish: [\"\"]\n",
     "7:17", "a topic filter cannot be empty"},
    // Filter errors point inside the string, at the offending character.
    {"filter_hash_not_last",
     CG_IDENTITY "rules:\n  - for: all\n    allow:\n      publish: [\"ok\", \"a/#/b\"]\n", "7:26",
     "'a/#/b' is not a valid MQTT topic filter"},
    {"filter_plus_inside_level",
     CG_IDENTITY "rules:\n  - for: all\n    allow:\n      publish: [\"a+\"]\n", "7:19",
     "'a+' is not a valid MQTT topic filter"},
    {"filter_hash_inside_level",
     CG_IDENTITY "rules:\n  - for: all\n    allow:\n      subscribe: [\"#a\"]\n", "7:20",
     "'#a' is not a valid MQTT topic filter"},
    {"filter_plus_prefixing_level_unquoted",
     CG_IDENTITY "rules:\n  - for: all\n    deny:\n      subscribe: [a/+b]\n", "7:21",
     "'a/+b' is not a valid MQTT topic filter"},
    {"placeholder_spanning_levels",
     CG_IDENTITY "rules:\n  - for: all\n    allow:\n      publish:\n        - \"a/{id/b}\"\n",
     "8:14", "placeholder spans topic levels"},
    {"unknown_placeholder",
     CG_IDENTITY "rules:\n  - for: all\n    allow:\n      publish: [\"x/{foo}\"]\n", "7:20",
     "unknown placeholder {foo}"},
    {"unterminated_placeholder",
     CG_IDENTITY "rules:\n  - for: all\n    deny:\n      publish: ['x/{id']\n", "7:20",
     "unterminated placeholder"},
    {"shared_subscription_in_rule",
     CG_IDENTITY "rules:\n  - for: all\n    allow:\n      subscribe: [\"$share/g/x\"]\n", "7:20",
     "write 'x' instead"},

    // --- revocation (policy side)
    {"unknown_revocation_key", CG_WITH_CA "revocation:\n  crls: [\"fleet.crl\"]\n", "7:3",
     "unknown key 'crls' (expected one of: crl, denylist, stale_crl, refresh)"},
    {"crl_without_ca", CG_IDENTITY "rules: []\nrevocation:\n  crl: [\"good.crl\"]\n", "6:8",
     "`revocation.crl` needs `ca`"},
    {"bad_stale_crl", CG_WITH_CA "revocation:\n  stale_crl: allow\n", "7:14",
     "`stale_crl` must be deny or warn, not 'allow'"},
    {"refresh_without_unit", CG_WITH_CA "revocation:\n  refresh: 5\n", "7:12",
     "`refresh` must look like 500ms, 5s, 2m or 1h"},
    {"refresh_in_words", CG_WITH_CA "revocation:\n  refresh: 5 seconds\n", "7:12",
     "`refresh` must look like"},
    {"refresh_zero", CG_WITH_CA "revocation:\n  refresh: 0s\n", "7:12",
     "`refresh` must be at least 10ms"},
    {"refresh_beyond_a_day", CG_WITH_CA "revocation:\n  refresh: 999999999h\n", "7:12",
     "`refresh` must be at most 24h"},

    // --- the files a policy names
    {"missing_ca_file",
     "version: 1\nca: \"no-such-ca.crt\"\nidentity:\n  from: [{cn: \"{id}\"}]\n"
     "rules: []\n",
     "2:5", "`ca`: "},
    {"ca_file_without_certificate",
     "version: 1\nca: not-a-cert.crt\nidentity:\n  from: [{cn: \"{id}\"}]\nrules: []\n", "2:5",
     "no certificate found"},
    {"crl_signed_by_another_ca", CG_WITH_CA "revocation:\n  crl: [good.crl, foreign.crl]\n", "",
     "not signed by a CA in `ca`", "foreign.crl"},
    {"crl_garbage", CG_WITH_CA "revocation:\n  crl: garbage.crl\n", "", "not a CRL", "garbage.crl"},
    {"crl_missing", CG_WITH_CA "revocation:\n  crl: [\"crl/missing.crl\"]\n", "", "cannot read",
     "crl/missing.crl"},
    {"denylist_malformed_line", CG_WITH_CA "revocation:\n  denylist: revoked-bad-line.txt\n", "3",
     "expected KIND:VALUE", "revoked-bad-line.txt"},
    {"denylist_unknown_kind", CG_WITH_CA "revocation:\n  denylist: revoked-bad-kind.txt\n", "2",
     "unknown entry kind 'srl'", "revoked-bad-kind.txt"},
    {"denylist_serial_not_hex", CG_WITH_CA "revocation:\n  denylist: revoked-bad-serial.txt\n", "4",
     "serial 'XYZ' is not hex", "revoked-bad-serial.txt"},
    {"denylist_missing", CG_WITH_CA "revocation:\n  denylist: no-such-revoked.txt\n", "",
     "cannot read", "no-such-revoked.txt"},
    {"policy_file_missing", nullptr, "", "cannot read: No such file or directory"},
};

class PolicyErrorsTest : public ::testing::TestWithParam<ErrorCase> {
 protected:
  // One CA and one set of named files for the whole table: key generation is the slow part.
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    TestCa ca("fleet CA");
    // Same subject as the fleet CA, different key: the CRL must be rejected on its signature,
    // not on a name mismatch.
    TestCa impostor("fleet CA");
    dir_->Write("ca.crt", ca.cert_pem());
    dir_->Write("not-a-cert.crt", "-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n");
    dir_->Write("good.crl", ca.CrlPem({}));
    dir_->Write("foreign.crl", impostor.CrlPem({"1000"}));
    dir_->Write("garbage.crl", "this is not a CRL\n");
    dir_->Write("revoked-bad-line.txt", "# operator's list\nid: sensor-9\nsensor-7\n");
    dir_->Write("revoked-bad-kind.txt", "\nsrl:1A2B\n");
    dir_->Write("revoked-bad-serial.txt", "serial:1A2B\n\n  # comment\nserial: XYZ\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static TempDir* dir_;
};

TempDir* PolicyErrorsTest::dir_ = nullptr;

TEST_P(PolicyErrorsTest, LintExitsTwoAndPointsAtTheMistake) {
  const ErrorCase& c = GetParam();
  const std::string policy_name = std::string(c.name) + ".yaml";
  const std::string policy_path =
      c.policy != nullptr ? dir_->Write(policy_name, c.policy) : dir_->path() + "/" + policy_name;

  // Files a policy names are resolved against the policy's folder, and reported by that path.
  const std::string file =
      c.file == nullptr
          ? policy_path
          : (std::filesystem::path(policy_path).parent_path() / c.file).lexically_normal().string();
  const std::string where = std::string(c.where);
  const std::string prefix = file + (where.empty() ? "" : ":" + where) + ": ";

  const CommandResult run = RunCommand({CERTGUARD_CLI_PATH, "lint", policy_path});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_EQ(run.output.substr(0, prefix.size()), prefix) << run.output;
  EXPECT_NE(run.output.find(c.phrase), std::string::npos)
      << "expected '" << c.phrase << "' in: " << run.output;
  // One line, so that a broker log or an editor's quickfix list shows it whole.
  EXPECT_EQ(run.output.find('\n'), run.output.size() - 1) << run.output;
}

INSTANTIATE_TEST_SUITE_P(Malformed, PolicyErrorsTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(PolicyErrorsTableTest, CoversAtLeastThirtyDistinctMistakes) {
  EXPECT_GE(std::size(kCases), 30u);
}

TEST(PolicyLintTest, DirectoryInsteadOfPolicyIsAReadErrorNotAnEmptyPolicy) {
  TempDir dir;
  const CommandResult run = RunCommand({CERTGUARD_CLI_PATH, "lint", dir.path()});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_EQ(run.output, dir.path() + ": cannot read: Is a directory\n");
}

TEST(PolicyLintTest, MissingPolicyArgumentIsAUsageError) {
  const CommandResult run = RunCommand({CERTGUARD_CLI_PATH, "lint"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
}

struct ValidCase {
  const char* name;
  const char* policy;
  const char* summary;  // part of lint's "ok (...)" line
};

const ValidCase kValid[] = {
    {"minimal", CG_IDENTITY "rules: []\n", "ok (0 rule entries, 0 groups, 0 CA certificates"},
    {"groups_and_rules",
     "version: 1\n"
     "identity:\n"
     "  from:\n"
     "    - san_uri: \"spiffe://example.com/device/{id}\"\n"
     "    - cn: \"{id}\"\n"
     "  client_id: any\n"
     "groups:\n"
     "  sensors: { id: \"sensor-*\" }\n"
     "  ops: { subject: { OU: \"operations\" } }\n"
     "rules:\n"
     "  - for: [sensors, ops]\n"
     "    allow: { publish: [\"t/{id}/+\", \"u/{client_id}\"], subscribe: \"c/{cn}/#\" }\n"
     "  - for: { id: [\"console\", \"console-2\"] }\n"
     "    allow: { subscribe: [\"t/#\"] }\n"
     "    deny: { subscribe: [\"t/secret/#\"] }\n",
     "ok (5 rule entries, 2 groups, 0 CA certificates"},
    // Tabs are fine where they are not indentation, and comments may say anything.
    {"tabs_outside_indentation",
     "version:\t1  # tab before the value\nidentity:\n  from: [{cn:\t\"{id}\"}]\nrules: []\t\n",
     "ok (0 rule entries"},
    {"every_revocation_source",
     CG_WITH_CA "revocation:\n  crl: [good.crl, good.der]\n  denylist: revoked.txt\n"
                "  stale_crl: warn\n  refresh: 250ms\n",
     "1 CA certificates, 3 denylist entries"},
    {"require_issuer_with_ca",
     "version: 1\nca: ca.crt\nidentity:\n  from: [{cn: \"{id}\"}]\n  require_issuer: true\n"
     "rules:\n  - for: all\n    deny: { publish: [\"$SYS/#\"] }\n",
     "ok (1 rule entries"},
};

class PolicyLintValidTest : public ::testing::TestWithParam<ValidCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    TestCa ca("fleet CA");
    dir_->Write("ca.crt", ca.cert_pem());
    dir_->Write("good.crl", ca.CrlPem({"1000"}));
    dir_->Write("good.der", ca.CrlDer({"1001"}));
    dir_->Write("revoked.txt", "# operator's list\nserial: 1A:2B\nsha256:" + std::string(64, 'a') +
                                   "  # a test digest\nid:sensor-7\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
};

TempDir* PolicyLintValidTest::dir_ = nullptr;

TEST_P(PolicyLintValidTest, LintExitsZeroAndSummarises) {
  const ValidCase& c = GetParam();
  const std::string path = dir_->Write(std::string(c.name) + ".yaml", c.policy);
  const CommandResult run = RunCommand({CERTGUARD_CLI_PATH, "lint", path});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.rfind(path + ": ok (", 0), 0u) << run.output;
  EXPECT_NE(run.output.find(c.summary), std::string::npos) << run.output;
}

INSTANTIATE_TEST_SUITE_P(Valid, PolicyLintValidTest, ::testing::ValuesIn(kValid),
                         [](const ::testing::TestParamInfo<ValidCase>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace certguard
