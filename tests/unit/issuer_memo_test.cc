// require_issuer verifies a certificate's signature once and remembers it: the same certificate
// reconnecting is admitted without a second check, while a forged certificate (same subject and
// issuer name, another key) is refused every time. A reload that keeps the CAs keeps what was
// verified; a snapshot with other CAs starts afresh.
#include <ctime>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "shared/certificate_info.h"
#include "shared/policy_snapshot.h"
#include "tests/support/test_pki.h"

namespace certguard {
namespace {

using testing::TempDir;
using testing::TestCa;
using testing::WithCn;

constexpr const char* kPolicy = R"(version: 1
ca: ca.crt
identity:
  from:
    - cn: "{id}"
  require_issuer: true
rules:
  - for: all
    allow:
      publish: ["#"]
)";

std::shared_ptr<const PolicySnapshot> Load(const TempDir& dir, const TestCa& ca) {
  dir.Write("ca.crt", ca.cert_pem());
  auto snapshot = PolicySnapshot::Load(dir.Write("policy.yaml", kPolicy));
  EXPECT_TRUE(snapshot) << snapshot.error().message;
  return snapshot ? snapshot.value() : nullptr;
}

CertificateInfo Info(const testing::IssuedCertificate& issued) {
  auto info = CertificateInfo::FromDer(issued.cert_der);
  EXPECT_TRUE(info) << info.error().message;
  return info ? info.value() : CertificateInfo{};
}

TEST(IssuerMemo, RemembersOnlyWhatVerifiedAndOnlyForItsSnapshot) {
  TempDir dir;
  TestCa fleet("memo CA");
  TestCa impostor("memo CA");  // same name, another key
  const auto snapshot = Load(dir, fleet);
  ASSERT_TRUE(snapshot);
  const CertificateInfo good = Info(fleet.Issue(WithCn("sensor-1")));
  const CertificateInfo forged = Info(impostor.Issue(WithCn("sensor-1")));
  ASSERT_EQ(good.issuer_dn, forged.issuer_dn);
  const int64_t now = std::time(nullptr);

  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE(attempt);
    EXPECT_TRUE(snapshot->AuthorizeConnect(&good, "sensor-1", now, nullptr).allowed);
    EXPECT_EQ(snapshot->AuthorizeConnect(&forged, "sensor-1", now, nullptr).reason,
              Reason::kIssuerNotTrusted);
  }

  // A snapshot trusting only the impostor: the fleet certificate it never verified is refused,
  // whatever the first snapshot remembered.
  const auto other = Load(dir, impostor);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->AuthorizeConnect(&good, "sensor-1", now, nullptr).reason,
            Reason::kIssuerNotTrusted);
  EXPECT_TRUE(other->AuthorizeConnect(&forged, "sensor-1", now, nullptr).allowed);
}

// A reload re-admits every connected device under the new snapshot (on a broker's thread): with
// the same CAs it must not verify each signature again; with other CAs it must.
TEST(IssuerMemo, ASuccessorTrustingTheSameCasKeepsTheMemoAndOtherCasStartAfresh) {
  TempDir dir;
  TestCa fleet("memo CA");
  TestCa impostor("memo CA");
  const auto first = Load(dir, fleet);
  ASSERT_TRUE(first);
  const CertificateInfo good = Info(fleet.Issue(WithCn("sensor-1")));
  const CertificateInfo forged = Info(impostor.Issue(WithCn("sensor-1")));
  const int64_t now = std::time(nullptr);
  ASSERT_TRUE(first->AuthorizeConnect(&good, "sensor-1", now, nullptr).allowed);
  EXPECT_EQ(first->verified_certificates(), 1u);

  const std::string policy = dir.path() + "/policy.yaml";
  auto same = PolicySnapshot::Load(policy, nullptr, first.get());
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same.value()->verified_certificates(), 1u);
  EXPECT_TRUE(same.value()->AuthorizeConnect(&good, "sensor-1", now, nullptr).allowed);
  EXPECT_EQ(same.value()->AuthorizeConnect(&forged, "sensor-1", now, nullptr).reason,
            Reason::kIssuerNotTrusted);

  // One more CA in the bundle is another trust: afresh.
  dir.Write("ca.crt", fleet.cert_pem() + impostor.cert_pem());
  auto wider = PolicySnapshot::Load(policy, nullptr, same.value().get());
  ASSERT_TRUE(wider) << wider.error().message;
  EXPECT_EQ(wider.value()->verified_certificates(), 0u);

  // Only the impostor's CA, under the same name: nothing the fleet CA verified carries over.
  dir.Write("ca.crt", impostor.cert_pem());
  auto other = PolicySnapshot::Load(policy, nullptr, same.value().get());
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other.value()->verified_certificates(), 0u);
  EXPECT_EQ(other.value()->AuthorizeConnect(&good, "sensor-1", now, nullptr).reason,
            Reason::kIssuerNotTrusted);
  EXPECT_TRUE(other.value()->AuthorizeConnect(&forged, "sensor-1", now, nullptr).allowed);
}

TEST(IssuerMemo, ACertificateWithoutItsDerIsNeverTakenFromTheMemo) {
  TempDir dir;
  TestCa fleet("memo CA");
  const auto snapshot = Load(dir, fleet);
  ASSERT_TRUE(snapshot);
  const CertificateInfo good = Info(fleet.Issue(WithCn("sensor-1")));
  const int64_t now = std::time(nullptr);
  ASSERT_TRUE(snapshot->AuthorizeConnect(&good, "sensor-1", now, nullptr).allowed);
  // Only CN and DN (EMQX without pem mode): no signature to check, so refused, not remembered.
  auto subject_only = CertificateInfo::FromSubjectStrings("sensor-1", "CN=sensor-1");
  ASSERT_TRUE(subject_only);
  EXPECT_FALSE(snapshot->AuthorizeConnect(&subject_only.value(), "sensor-1", now, nullptr).allowed);
}

}  // namespace
}  // namespace certguard
