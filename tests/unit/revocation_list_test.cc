#include "shared/revocation_list.h"

#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "shared/x509_name.h"
#include "tests/support/test_pki.h"

namespace certguard {
namespace {

using Kind = RevocationStatus::Kind;
using testing::IssuedCertificate;
using testing::TempDir;
using testing::TestCa;
using testing::WithCn;

// gmock is not linked; these keep failure messages readable through EXPECT_PRED2.
bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
bool BeginsWith(const std::string& text, const std::string& prefix) {
  return text.starts_with(prefix);
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

X509Ptr CaPtr(const TestCa& ca) {
  X509_up_ref(ca.x509());
  return X509Ptr(ca.x509(), X509Deleter());
}

// What the connect path sees for a full certificate. Built from the test PKI's own serial and
// digest (computed independently of certguard) so that these tests pin the CRL side; the
// agreement with CertificateInfo::FromPem is asserted separately below.
CertificateInfo InfoFor(const IssuedCertificate& cert) {
  CertificateInfo info;
  info.has_full_certificate = true;
  info.issuer_dn = NameToRfc2253(X509_get_issuer_name(cert.x509.get()));
  info.subject_dn = NameToRfc2253(X509_get_subject_name(cert.x509.get()));
  info.serial_hex = cert.serial_hex;
  info.sha256_hex = cert.sha256_hex;
  info.x509 = cert.x509;
  return info;
}

// What EMQX gives without peer_cert_as_username = pem: a subject and nothing else.
CertificateInfo SubjectOnly(const std::string& cn) {
  CertificateInfo info;
  info.has_full_certificate = false;
  info.common_names = {cn};
  info.subject_dn = "CN=" + cn;
  return info;
}

std::string CaDn(const TestCa& ca) { return NameToRfc2253(X509_get_subject_name(ca.x509())); }

// ---------------------------------------------------------------------------------------------
// The string forms shared with CertificateInfo.

TEST(CrlStringForms, SerialHexDropsTheLeadingZeroNibbleThatBnBn2hexKeeps) {
  struct Case {
    uint64_t value;
    const char* hex;
  };
  for (const Case& c : {Case{0, "0"}, Case{5, "5"}, Case{0xAB, "AB"}, Case{0x100, "100"},
                        Case{0x0FFF, "FFF"}, Case{0xDEADBEEF, "DEADBEEF"}}) {
    std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> integer(ASN1_INTEGER_new(),
                                                                        &ASN1_INTEGER_free);
    ASSERT_EQ(ASN1_INTEGER_set_uint64(integer.get(), c.value), 1);
    EXPECT_EQ(Asn1IntegerToHex(integer.get()), c.hex) << c.value;
  }
}

TEST(CrlStringForms, SerialHexAgreesWithBnBn2hexForTwentyByteSerials) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_new(), &BN_free);
  for (int i = 0; i < 200; ++i) {
    // 1..160 bits, so both odd and even digit counts occur.
    ASSERT_EQ(BN_rand(bn.get(), 1 + i % 160, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), 1);
    std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> integer(
        BN_to_ASN1_INTEGER(bn.get(), nullptr), &ASN1_INTEGER_free);
    char* reference = BN_bn2hex(bn.get());
    std::string expected = reference;
    OPENSSL_free(reference);
    const size_t first = expected.find_first_not_of('0');
    expected = first == std::string::npos ? "0" : expected.substr(first);
    EXPECT_EQ(Asn1IntegerToHex(integer.get()), expected);
  }
}

TEST(CrlStringForms, NegativeSerialKeepsItsSign) {
  std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> integer(ASN1_INTEGER_new(),
                                                                      &ASN1_INTEGER_free);
  ASSERT_EQ(ASN1_INTEGER_set_int64(integer.get(), -0x1F), 1);
  EXPECT_EQ(Asn1IntegerToHex(integer.get()), "-1F");
}

TEST(CrlStringForms, OperatorSerialIsNormalisedLikeCertificateSerial) {
  std::string out;
  ASSERT_TRUE(NormalizeSerialHex("00:0a:Bc", &out));
  EXPECT_EQ(out, "ABC");
  ASSERT_TRUE(NormalizeSerialHex("0000", &out));
  EXPECT_EQ(out, "0");
  EXPECT_FALSE(NormalizeSerialHex("", &out));
  EXPECT_FALSE(NormalizeSerialHex("::", &out));
  EXPECT_FALSE(NormalizeSerialHex("12G4", &out));
  EXPECT_FALSE(NormalizeSerialHex("0x12", &out));
}

TEST(CrlStringForms, NameIsMostSpecificFirstWithUtf8KeptAndSpecialsEscaped) {
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> name(X509_NAME_new(), &X509_NAME_free);
  const auto add = [&](const char* field, const std::string& value) {
    ASSERT_EQ(X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, 0),
              1);
  };
  add("O", "Acme, Inc.");
  add("CN", "capteur-\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(NameToRfc2253(name.get()), "CN=capteur-\xC3\xA9t\xC3\xA9,O=Acme\\, Inc.");
  EXPECT_EQ(NameToRfc2253(nullptr), "");
}

// ---------------------------------------------------------------------------------------------
// CrlSet

class CrlSetTest : public ::testing::Test {
 protected:
  Result<CrlSet> LoadOne(const std::string& name, const std::string& contents,
                         const std::vector<X509Ptr>& cas) {
    return CrlSet::Load({dir_.Write(name, contents)}, {name}, cas);
  }

  TempDir dir_;
  TestCa ca_{"Fleet CA"};
};

TEST_F(CrlSetTest, PemCrlRevokesListedSerialOnly) {
  IssuedCertificate revoked = ca_.Issue(WithCn("sensor-1"));
  IssuedCertificate good = ca_.Issue(WithCn("sensor-2"));
  Result<CrlSet> set = LoadOne("crl/fleet-ca.crl", ca_.CrlPem({revoked.serial_hex}), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;

  RevocationStatus status = set->Check(InfoFor(revoked), Now(), StaleCrlMode::kDeny);
  EXPECT_EQ(status.kind, Kind::kRevokedByCrl);
  EXPECT_EQ(status.detail, "serial " + revoked.serial_hex + " listed in crl/fleet-ca.crl");
  EXPECT_TRUE(status.revoked());

  status = set->Check(InfoFor(good), Now(), StaleCrlMode::kDeny);
  EXPECT_EQ(status.kind, Kind::kGood);
  EXPECT_EQ(status.detail, "");
  EXPECT_FALSE(status.revoked());
}

TEST_F(CrlSetTest, CertificateInfoFromPemFindsItsIssuersCrlAndSerial) {
  // The end-to-end contract: the strings CertificateInfo extracts are the CRL index keys.
  TestCa utf8_ca("Flotte \xC3\xA9t\xC3\xA9, Nord");  // non-ASCII and an escaped ','
  testing::LeafSpec spec = WithCn("sensor-1");
  spec.serial = 0x0F;  // odd digit count: BN_bn2hex would say "0F"
  IssuedCertificate revoked = utf8_ca.Issue(spec);
  IssuedCertificate good = utf8_ca.Issue(WithCn("sensor-2"));
  Result<CrlSet> set = LoadOne("fleet.crl", utf8_ca.CrlPem({revoked.serial_hex}), {CaPtr(utf8_ca)});
  ASSERT_TRUE(set.ok()) << set.error().message;

  Result<CertificateInfo> revoked_info = CertificateInfo::FromPem(revoked.cert_pem);
  ASSERT_TRUE(revoked_info.ok()) << revoked_info.error().message;
  EXPECT_EQ(revoked_info->serial_hex, "F");
  EXPECT_NE(set->FindIssuer(revoked_info->issuer_dn), nullptr) << revoked_info->issuer_dn;
  EXPECT_EQ(set->Check(*revoked_info, Now(), StaleCrlMode::kDeny).kind, Kind::kRevokedByCrl);

  Result<CertificateInfo> good_info = CertificateInfo::FromPem(good.cert_pem);
  ASSERT_TRUE(good_info.ok()) << good_info.error().message;
  EXPECT_EQ(set->Check(*good_info, Now(), StaleCrlMode::kDeny).kind, Kind::kGood);
}

// A delta CRL only lists what changed since its base CRL; loading it as if it were complete
// would forget every revocation in the base, so it is refused.
TEST_F(CrlSetTest, DeltaCrlIsRefusedRatherThanReadAsAFullList) {
  const std::string der = ca_.CrlDer({});
  const unsigned char* in = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(
      d2i_X509_CRL(nullptr, &in, static_cast<long>(der.size())), X509_CRL_free);
  ASSERT_NE(crl, nullptr);
  std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> base_number(ASN1_INTEGER_new(),
                                                                          ASN1_INTEGER_free);
  ASSERT_EQ(ASN1_INTEGER_set(base_number.get(), 7), 1);
  ASSERT_EQ(X509_CRL_add1_ext_i2d(crl.get(), NID_delta_crl, base_number.get(), 1, 0), 1);
  BIO* key_bio = BIO_new_mem_buf(ca_.key_pem().data(), static_cast<int>(ca_.key_pem().size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  ASSERT_NE(key, nullptr);
  ASSERT_GT(X509_CRL_sign(crl.get(), key, EVP_sha256()), 0);
  EVP_PKEY_free(key);
  unsigned char* out = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &out);
  ASSERT_GT(length, 0);
  const std::string delta(reinterpret_cast<const char*>(out), static_cast<size_t>(length));
  OPENSSL_free(out);

  Result<CrlSet> set = LoadOne("delta.crl", delta, {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message.find("delta.crl: "), std::string::npos) << set.error().message;
  EXPECT_NE(set.error().message.find("delta CRL"), std::string::npos) << set.error().message;
}

TEST_F(CrlSetTest, DerCrlRevokesListedSerialOnly) {
  IssuedCertificate revoked = ca_.Issue(WithCn("sensor-1"));
  IssuedCertificate good = ca_.Issue(WithCn("sensor-2"));
  Result<CrlSet> set = LoadOne("fleet.der", ca_.CrlDer({revoked.serial_hex}), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->Check(InfoFor(revoked), Now(), StaleCrlMode::kDeny).kind, Kind::kRevokedByCrl);
  EXPECT_EQ(set->Check(InfoFor(good), Now(), StaleCrlMode::kDeny).kind, Kind::kGood);
}

TEST_F(CrlSetTest, SmallSerialMatchesWithoutLeadingZeroNibble) {
  // BN_bn2hex prints 5 as "05"; both sides must agree on "5".
  testing::LeafSpec spec = WithCn("sensor-5");
  spec.serial = 5;
  IssuedCertificate cert = ca_.Issue(spec);
  ASSERT_EQ(cert.serial_hex, "5");
  Result<CrlSet> set = LoadOne("fleet.crl", ca_.CrlDer({"05"}), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  const CrlSet::IssuerCrl* crl = set->FindIssuer(CaDn(ca_));
  ASSERT_NE(crl, nullptr);
  EXPECT_TRUE(crl->revoked_serials.contains("5"));
  EXPECT_EQ(set->Check(InfoFor(cert), Now(), StaleCrlMode::kDeny).kind, Kind::kRevokedByCrl);
}

TEST_F(CrlSetTest, PemBundleWithTwoIssuersCoversBoth) {
  TestCa other("Lab CA");
  IssuedCertificate fleet_revoked = ca_.Issue(WithCn("sensor-1"));
  IssuedCertificate fleet_good = ca_.Issue(WithCn("sensor-2"));
  IssuedCertificate lab_revoked = other.Issue(WithCn("lab-1"));
  IssuedCertificate lab_good = other.Issue(WithCn("lab-2"));
  // The CA certificates in between must be skipped, not taken for broken CRLs.
  const std::string bundle = ca_.cert_pem() + ca_.CrlPem({fleet_revoked.serial_hex}) +
                             other.cert_pem() + other.CrlPem({lab_revoked.serial_hex});
  Result<CrlSet> set = LoadOne("all.pem", bundle, {CaPtr(ca_), CaPtr(other)});
  ASSERT_TRUE(set.ok()) << set.error().message;

  EXPECT_EQ(set->Check(InfoFor(fleet_revoked), Now(), StaleCrlMode::kDeny).kind,
            Kind::kRevokedByCrl);
  EXPECT_EQ(set->Check(InfoFor(lab_revoked), Now(), StaleCrlMode::kDeny).kind, Kind::kRevokedByCrl);
  EXPECT_EQ(set->Check(InfoFor(fleet_good), Now(), StaleCrlMode::kDeny).kind, Kind::kGood);
  EXPECT_EQ(set->Check(InfoFor(lab_good), Now(), StaleCrlMode::kDeny).kind, Kind::kGood);
  // Serials are per issuer: a lab serial on the fleet CRL does not revoke the lab certificate.
  EXPECT_NE(set->FindIssuer(CaDn(ca_)), nullptr);
  EXPECT_NE(set->FindIssuer(CaDn(other)), nullptr);
}

TEST_F(CrlSetTest, SerialListedByAnotherIssuerDoesNotRevoke) {
  TestCa other("Lab CA");
  IssuedCertificate lab = other.Issue(WithCn("lab-1"));
  Result<CrlSet> set = LoadOne("crls.pem", ca_.CrlPem({lab.serial_hex}) + other.CrlPem({}),
                               {CaPtr(ca_), CaPtr(other)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->Check(InfoFor(lab), Now(), StaleCrlMode::kDeny).kind, Kind::kGood);
}

TEST_F(CrlSetTest, CrlsForOneIssuerAreMergedWithEarliestNextUpdate) {
  IssuedCertificate first = ca_.Issue(WithCn("sensor-1"));
  IssuedCertificate second = ca_.Issue(WithCn("sensor-2"));
  IssuedCertificate good = ca_.Issue(WithCn("sensor-3"));
  const int64_t before = Now();
  const std::string a = dir_.Write("a.crl", ca_.CrlPem({first.serial_hex}, 86400));
  const std::string b = dir_.Write("b.crl", ca_.CrlDer({second.serial_hex}, 7200));
  Result<CrlSet> set = CrlSet::Load({a, b}, {"crl/a.crl", "crl/b.crl"}, {CaPtr(ca_)});
  const int64_t after = Now();
  ASSERT_TRUE(set.ok()) << set.error().message;

  EXPECT_EQ(set->Check(InfoFor(first), Now(), StaleCrlMode::kDeny).kind, Kind::kRevokedByCrl);
  EXPECT_EQ(set->Check(InfoFor(second), Now(), StaleCrlMode::kDeny).kind, Kind::kRevokedByCrl);
  EXPECT_EQ(set->Check(InfoFor(good), Now(), StaleCrlMode::kDeny).kind, Kind::kGood);

  const CrlSet::IssuerCrl* crl = set->FindIssuer(CaDn(ca_));
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(crl->source, "crl/a.crl, crl/b.crl");
  EXPECT_EQ(crl->next_update_source, "crl/b.crl");
  EXPECT_GE(crl->next_update, before + 7200);
  EXPECT_LE(crl->next_update, after + 7200);
  EXPECT_EQ(set->EarliestNextUpdate(), crl->next_update);
  EXPECT_EQ(crl->revoked_serials.size(), 2u);
}

TEST_F(CrlSetTest, SameFileListedTwiceIsNamedOnce) {
  const std::string path = dir_.Write("a.crl", ca_.CrlPem({"1234"}));
  Result<CrlSet> set = CrlSet::Load({path, path}, {"a.crl", "a.crl"}, {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->FindIssuer(CaDn(ca_))->source, "a.crl");
}

TEST_F(CrlSetTest, NextUpdateIsUnixSeconds) {
  const int64_t before = Now();
  Result<CrlSet> set = LoadOne("fleet.crl", ca_.CrlPem({}, 86400), {CaPtr(ca_)});
  const int64_t after = Now();
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_GE(set->EarliestNextUpdate(), before + 86400);
  EXPECT_LE(set->EarliestNextUpdate(), after + 86400);
}

TEST_F(CrlSetTest, EmptySetHasNoNextUpdateAndAcceptsEverything) {
  Result<CrlSet> set = CrlSet::Load({}, {}, {CaPtr(ca_)});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->empty());
  EXPECT_EQ(set->EarliestNextUpdate(), INT64_MAX);
  // Without CRLs configured a subject-only identity needs nothing more.
  EXPECT_EQ(set->Check(SubjectOnly("sensor-1"), Now(), StaleCrlMode::kDeny).kind, Kind::kGood);
}

TEST_F(CrlSetTest, CrlSignedByForeignCaIsRejected) {
  TestCa foreign("Rogue CA");
  Result<CrlSet> set = LoadOne("crl/rogue.crl", foreign.CrlPem({}), {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message,
            "crl/rogue.crl: CRL issued by " + CaDn(foreign) + " is not signed by a CA in `ca`");
  EXPECT_PRED2(BeginsWith, CaDn(foreign), "CN=Rogue CA");
}

TEST_F(CrlSetTest, CrlFromImpostorWithTheCasNameIsRejected) {
  // Same subject, different key: matching the issuer name alone would accept this forgery,
  // which could "un-revoke" devices by replacing the real CRL.
  TestCa impostor("Fleet CA");
  Result<CrlSet> set = LoadOne("fleet.der", impostor.CrlDer({}), {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message,
            "fleet.der: CRL issued by " + CaDn(ca_) + " is not signed by a CA in `ca`");
}

TEST_F(CrlSetTest, CrlIsAcceptedWhenAnyCaWithTheNameVerifiesIt) {
  // Key rollover: two CA certificates share a subject; the CRL is signed by the second.
  TestCa rolled("Fleet CA");
  Result<CrlSet> set = LoadOne("fleet.crl", rolled.CrlPem({}), {CaPtr(ca_), CaPtr(rolled)});
  EXPECT_TRUE(set.ok()) << set.error().message;
}

TEST_F(CrlSetTest, OneBadCrlInABundleRejectsTheWholeLoad) {
  TestCa foreign("Rogue CA");
  Result<CrlSet> set = LoadOne("all.pem", ca_.CrlPem({}) + foreign.CrlPem({}), {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_PRED2(BeginsWith, set.error().message, "all.pem: CRL issued by CN=Rogue CA");
}

TEST_F(CrlSetTest, GarbageFileIsRejected) {
  Result<CrlSet> set = LoadOne("crl/garbage.crl", "this is not a CRL\n", {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_PRED2(BeginsWith, set.error().message, "crl/garbage.crl: not a CRL");
}

TEST_F(CrlSetTest, EmptyFileIsRejected) {
  Result<CrlSet> set = LoadOne("empty.crl", "", {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_PRED2(BeginsWith, set.error().message, "empty.crl: not a CRL");
}

TEST_F(CrlSetTest, PemWithoutAnyCrlIsRejected) {
  Result<CrlSet> set = LoadOne("ca.pem", ca_.cert_pem(), {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, "ca.pem: no X509 CRL found in PEM file");
}

TEST_F(CrlSetTest, CorruptPemBodyIsRejected) {
  std::string pem = ca_.CrlPem({"1234"});
  const size_t body = pem.find('\n') + 1;
  pem.replace(body, 8, "!!!!!!!!");
  Result<CrlSet> set = LoadOne("bad.pem", pem, {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_PRED2(BeginsWith, set.error().message, "bad.pem: invalid PEM CRL #1: ");
}

TEST_F(CrlSetTest, TruncatedDerIsRejected) {
  const std::string der = ca_.CrlDer({"1234"});
  Result<CrlSet> set = LoadOne("cut.der", der.substr(0, der.size() / 2), {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_PRED2(BeginsWith, set.error().message, "cut.der: not a CRL");
}

TEST_F(CrlSetTest, DerWithTrailingDataIsRejected) {
  Result<CrlSet> set = LoadOne("two.der", ca_.CrlDer({"1"}) + ca_.CrlDer({"2"}), {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, "two.der: unexpected data after the DER CRL");
}

TEST_F(CrlSetTest, MissingFileIsRejectedWithTheDisplayPath) {
  Result<CrlSet> set = CrlSet::Load({dir_.path() + "/nope.crl"}, {"crl/nope.crl"}, {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, "crl/nope.crl: cannot read: No such file or directory");
}

TEST_F(CrlSetTest, DirectoryIsRejectedAsUnreadable) {
  Result<CrlSet> set = CrlSet::Load({dir_.path()}, {"crl/"}, {CaPtr(ca_)});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, "crl/: cannot read: Is a directory");
}

TEST_F(CrlSetTest, StaleCrlDeniesInDenyMode) {
  IssuedCertificate cert = ca_.Issue(WithCn("sensor-1"));
  Result<CrlSet> set = LoadOne("crl/fleet-ca.crl", ca_.CrlPem({}, -60, -7200), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  const int64_t next_update = set->EarliestNextUpdate();

  RevocationStatus status = set->Check(InfoFor(cert), Now(), StaleCrlMode::kDeny);
  EXPECT_EQ(status.kind, Kind::kStaleCrl);
  EXPECT_PRED2(Contains, status.detail, "crl/fleet-ca.crl");
  EXPECT_PRED2(Contains, status.detail, "CN=Fleet CA");
  // The nextUpdate time, human-readable.
  std::time_t t = static_cast<std::time_t>(next_update);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  EXPECT_PRED2(Contains, status.detail, std::string(when));
}

TEST_F(CrlSetTest, StaleCrlIsStillConsultedInWarnMode) {
  IssuedCertificate revoked = ca_.Issue(WithCn("sensor-1"));
  IssuedCertificate good = ca_.Issue(WithCn("sensor-2"));
  Result<CrlSet> set =
      LoadOne("crl/fleet-ca.crl", ca_.CrlPem({revoked.serial_hex}, -60, -7200), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;

  RevocationStatus status = set->Check(InfoFor(good), Now(), StaleCrlMode::kWarn);
  EXPECT_EQ(status.kind, Kind::kGood);
  EXPECT_PRED2(Contains, status.detail, "stale");  // the warning for the log
  EXPECT_PRED2(Contains, status.detail, "crl/fleet-ca.crl");

  status = set->Check(InfoFor(revoked), Now(), StaleCrlMode::kWarn);
  EXPECT_EQ(status.kind, Kind::kRevokedByCrl);
  EXPECT_EQ(status.detail, "serial " + revoked.serial_hex + " listed in crl/fleet-ca.crl");
}

TEST_F(CrlSetTest, CrlBecomesStaleOnlyAfterNextUpdate) {
  IssuedCertificate cert = ca_.Issue(WithCn("sensor-1"));
  Result<CrlSet> set = LoadOne("fleet.crl", ca_.CrlPem({}, 3600), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  const int64_t next_update = set->EarliestNextUpdate();
  EXPECT_EQ(set->Check(InfoFor(cert), next_update, StaleCrlMode::kDeny).kind, Kind::kGood);
  EXPECT_EQ(set->Check(InfoFor(cert), next_update + 1, StaleCrlMode::kDeny).kind, Kind::kStaleCrl);
}

TEST_F(CrlSetTest, StaleCrlOfOneIssuerDoesNotAffectAnother) {
  TestCa other("Lab CA");
  IssuedCertificate lab = other.Issue(WithCn("lab-1"));
  Result<CrlSet> set = LoadOne("crls.pem", ca_.CrlPem({}, -60, -7200) + other.CrlPem({}),
                               {CaPtr(ca_), CaPtr(other)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->Check(InfoFor(lab), Now(), StaleCrlMode::kDeny).kind, Kind::kGood);
}

TEST_F(CrlSetTest, CertificateFromIssuerWithoutCrlFailsClosed) {
  TestCa other("Lab CA");
  IssuedCertificate lab = other.Issue(WithCn("lab-1"));
  Result<CrlSet> set = LoadOne("fleet.crl", ca_.CrlPem({}), {CaPtr(ca_), CaPtr(other)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  RevocationStatus status = set->Check(InfoFor(lab), Now(), StaleCrlMode::kDeny);
  EXPECT_EQ(status.kind, Kind::kNoCrlForIssuer);
  EXPECT_PRED2(Contains, status.detail, "CN=Lab CA");
}

TEST_F(CrlSetTest, SubjectOnlyIdentityNeedsTheFullCertificate) {
  Result<CrlSet> set = LoadOne("fleet.crl", ca_.CrlPem({}), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->Check(SubjectOnly("sensor-1"), Now(), StaleCrlMode::kDeny).kind,
            Kind::kNeedsFullCertificate);
  EXPECT_EQ(set->Check(SubjectOnly("sensor-1"), Now(), StaleCrlMode::kWarn).kind,
            Kind::kNeedsFullCertificate);
}

TEST_F(CrlSetTest, LargeCrlLoadsEverySerial) {
  constexpr int kCount = 100000;
  std::vector<std::string> serials;
  serials.reserve(kCount);
  char buffer[32];
  for (int i = 0; i < kCount; ++i) {
    std::snprintf(buffer, sizeof buffer, "7E%014X", i + 1);
    serials.emplace_back(buffer);
  }
  Result<CrlSet> set = LoadOne("big.crl", ca_.CrlDer(serials), {CaPtr(ca_)});
  ASSERT_TRUE(set.ok()) << set.error().message;
  const CrlSet::IssuerCrl* crl = set->FindIssuer(CaDn(ca_));
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(crl->revoked_serials.size(), static_cast<size_t>(kCount));
  EXPECT_TRUE(crl->revoked_serials.contains(serials.back()));
}

// ---------------------------------------------------------------------------------------------
// Denylist

const char kSha256[] = "3f5a0c9d2e4b6a8c1d3e5f7a9b0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c";

TEST(DenylistTest, ParsesEveryKindWithCommentsBlankLinesAndWhitespace) {
  const std::string text =
      "# revoked devices\n"
      "\n"
      "serial:0A1B2C\n"
      "  serial: 00:de:AD:be:EF   # leading zeros and colons\n"
      "sha256:" +
      std::string(kSha256) +
      "\n"
      "\tid:sensor-7\t\r\n"
      "id:urn:dev:42   # the value may itself contain ':'\n"
      "   # indented comment\n";
  Result<Denylist> list = Denylist::Parse(text, "revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->size(), 5u);
  EXPECT_TRUE(list->has_certificate_entries());

  CertificateInfo cert;
  cert.has_full_certificate = true;
  cert.serial_hex = "A1B2C";
  cert.sha256_hex = "00";
  RevocationStatus status = list->Check(cert, "other");
  EXPECT_EQ(status.kind, Kind::kDenylistedSerial);
  EXPECT_EQ(status.detail, "serial A1B2C listed at revoked.txt:3");

  cert.serial_hex = "DEADBEEF";
  status = list->Check(cert, "other");
  EXPECT_EQ(status.kind, Kind::kDenylistedSerial);
  EXPECT_EQ(status.detail, "serial DEADBEEF listed at revoked.txt:4");

  cert.serial_hex = "1";
  cert.sha256_hex = kSha256;
  status = list->Check(cert, "other");
  EXPECT_EQ(status.kind, Kind::kDenylistedSha256);
  EXPECT_EQ(status.detail, "sha256 " + std::string(kSha256) + " listed at revoked.txt:5");

  status = list->Check(cert, "sensor-7");
  EXPECT_EQ(status.kind, Kind::kDenylistedId);
  EXPECT_EQ(status.detail, "id sensor-7 listed at revoked.txt:6");

  status = list->Check(cert, "urn:dev:42");
  EXPECT_EQ(status.kind, Kind::kDenylistedId);
  EXPECT_EQ(status.detail, "id urn:dev:42 listed at revoked.txt:7");
}

TEST(DenylistTest, Sha256MayBeUppercaseWithColons) {
  std::string colon_upper;
  for (size_t i = 0; i < 64; i += 2) {
    if (i > 0) colon_upper += ':';
    colon_upper += static_cast<char>(std::toupper(kSha256[i]));
    colon_upper += static_cast<char>(std::toupper(kSha256[i + 1]));
  }
  Result<Denylist> list = Denylist::Parse("sha256:" + colon_upper + "\n", "revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;
  CertificateInfo cert;
  cert.has_full_certificate = true;
  cert.serial_hex = "1";
  cert.sha256_hex = kSha256;
  EXPECT_EQ(list->Check(cert, "x").kind, Kind::kDenylistedSha256);
}

TEST(DenylistTest, Sha256KeepsItsLeadingZeros) {
  const std::string digest = "00" + std::string(kSha256).substr(2);
  Result<Denylist> list = Denylist::Parse("sha256:" + digest, "revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;
  CertificateInfo cert;
  cert.has_full_certificate = true;
  cert.sha256_hex = digest;
  EXPECT_EQ(list->Check(cert, "x").kind, Kind::kDenylistedSha256);
}

TEST(DenylistTest, SerialZeroIsZero) {
  Result<Denylist> list = Denylist::Parse("serial:00:00", "revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;
  CertificateInfo cert;
  cert.has_full_certificate = true;
  cert.serial_hex = "0";
  EXPECT_EQ(list->Check(cert, "x").kind, Kind::kDenylistedSerial);
}

TEST(DenylistTest, DuplicateEntryReportsItsFirstLine) {
  Result<Denylist> list = Denylist::Parse("id:a\nid:b\nid:a\n", "revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(list->Check(SubjectOnly("a"), "a").detail, "id a listed at revoked.txt:1");
}

TEST(DenylistTest, EmptyTextIsAnEmptyList) {
  Result<Denylist> list = Denylist::Parse("# nothing yet\n\n", "revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->size(), 0u);
  EXPECT_FALSE(list->has_certificate_entries());
  EXPECT_EQ(list->Check(SubjectOnly("a"), "a").kind, Kind::kGood);
}

TEST(DenylistTest, ErrorsNameFileLineAndProblem) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"id:ok\n\nsrl:1234\n",
       "revoked.txt:3: unknown entry kind 'srl' (expected serial, sha256 or id)"},
      {"Serial:1234", "revoked.txt:1: unknown entry kind 'Serial' (expected serial, sha256 or id)"},
      {"# c\nsensor-1\n",
       "revoked.txt:2: expected KIND:VALUE (serial:HEX, sha256:HEX or id:DEVICE-ID), got "
       "'sensor-1'"},
      {"serial:12G4", "revoked.txt:1: serial '12G4' is not hex"},
      {"serial:0x1234", "revoked.txt:1: serial '0x1234' is not hex"},
      {"serial: :: ", "revoked.txt:1: serial '::' is not hex"},
      {"serial:", "revoked.txt:1: empty serial value"},
      {"serial:   # nothing", "revoked.txt:1: empty serial value"},
      {"\n\n\nsha256:abcd", "revoked.txt:4: sha256 must be 64 hex digits, got 4"},
      {"sha256:" + std::string(kSha256) + "00",
       "revoked.txt:1: sha256 must be 64 hex digits, got 66"},
      {"sha256:" + std::string(kSha256).substr(1) + "z",
       "revoked.txt:1: sha256 '" + std::string(kSha256).substr(1) + "z' is not hex"},
      {"sha256:", "revoked.txt:1: empty sha256 value"},
      {"id:sensor-1\nid:", "revoked.txt:2: empty id value"},
      {"id:  \t", "revoked.txt:1: empty id value"},
      {":1234", "revoked.txt:1: unknown entry kind '' (expected serial, sha256 or id)"},
  };
  for (const Case& c : cases) {
    Result<Denylist> list = Denylist::Parse(c.text, "revoked.txt");
    ASSERT_FALSE(list.ok()) << c.text;
    EXPECT_EQ(list.error().message, c.message) << c.text;
  }
}

TEST(DenylistTest, LineNumbersCountCrlfLines) {
  Result<Denylist> list = Denylist::Parse("id:a\r\n# x\r\nbogus:1\r\n", "r.txt");
  ASSERT_FALSE(list.ok());
  EXPECT_PRED2(BeginsWith, list.error().message, "r.txt:3: unknown entry kind 'bogus'");
}

TEST(DenylistTest, SubjectOnlyIdentityIsCheckedByIdButNeedsCertificateForOtherEntries) {
  Result<Denylist> ids_only = Denylist::Parse("id:sensor-1\n", "revoked.txt");
  ASSERT_TRUE(ids_only.ok());
  EXPECT_FALSE(ids_only->has_certificate_entries());
  EXPECT_EQ(ids_only->Check(SubjectOnly("sensor-1"), "sensor-1").kind, Kind::kDenylistedId);
  EXPECT_EQ(ids_only->Check(SubjectOnly("sensor-2"), "sensor-2").kind, Kind::kGood);

  Result<Denylist> mixed = Denylist::Parse("id:sensor-1\nserial:1234\n", "revoked.txt");
  ASSERT_TRUE(mixed.ok());
  // An id entry decides even without the certificate...
  EXPECT_EQ(mixed->Check(SubjectOnly("sensor-1"), "sensor-1").kind, Kind::kDenylistedId);
  // ...but an unlisted id cannot be cleared without the serial.
  RevocationStatus status = mixed->Check(SubjectOnly("sensor-2"), "sensor-2");
  EXPECT_EQ(status.kind, Kind::kNeedsFullCertificate);
  EXPECT_PRED2(Contains, status.detail, "revoked.txt");

  Result<Denylist> digests = Denylist::Parse("sha256:" + std::string(kSha256), "revoked.txt");
  ASSERT_TRUE(digests.ok());
  EXPECT_EQ(digests->Check(SubjectOnly("sensor-2"), "sensor-2").kind, Kind::kNeedsFullCertificate);
}

TEST(DenylistTest, IdMatchIsExactAndCaseSensitive) {
  Result<Denylist> list = Denylist::Parse("id:Sensor-1", "revoked.txt");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->Check(SubjectOnly("sensor-1"), "sensor-1").kind, Kind::kGood);
  EXPECT_EQ(list->Check(SubjectOnly("Sensor-10"), "Sensor-10").kind, Kind::kGood);
  EXPECT_EQ(list->Check(SubjectOnly("Sensor-1"), "Sensor-1").kind, Kind::kDenylistedId);
}

TEST(DenylistTest, LoadsFileAndMatchesRealCertificate) {
  TestCa ca("Fleet CA");
  testing::LeafSpec spec = WithCn("sensor-1");
  spec.serial = 0x0ABC;
  IssuedCertificate by_serial = ca.Issue(spec);
  IssuedCertificate by_digest = ca.Issue(WithCn("sensor-2"));
  IssuedCertificate good = ca.Issue(WithCn("sensor-3"));
  TempDir dir;
  const std::string path =
      dir.Write("revoked.txt", "serial:00:0a:bc\nsha256:" + by_digest.sha256_hex + "\n");
  Result<Denylist> list = Denylist::Load(path, "policy/revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;

  RevocationStatus status = list->Check(InfoFor(by_serial), "sensor-1");
  EXPECT_EQ(status.kind, Kind::kDenylistedSerial);
  EXPECT_EQ(status.detail, "serial ABC listed at policy/revoked.txt:1");
  status = list->Check(InfoFor(by_digest), "sensor-2");
  EXPECT_EQ(status.kind, Kind::kDenylistedSha256);
  EXPECT_EQ(status.detail, "sha256 " + by_digest.sha256_hex + " listed at policy/revoked.txt:2");
  EXPECT_EQ(list->Check(InfoFor(good), "sensor-3").kind, Kind::kGood);
}

TEST(DenylistTest, SerialIsCheckedBeforeSha256) {
  TestCa ca;
  IssuedCertificate cert = ca.Issue(WithCn("sensor-1"));
  Result<Denylist> list = Denylist::Parse(
      "sha256:" + cert.sha256_hex + "\nserial:" + cert.serial_hex + "\n", "revoked.txt");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->Check(InfoFor(cert), "sensor-1").kind, Kind::kDenylistedSerial);
}

TEST(DenylistTest, MissingFileIsAnError) {
  TempDir dir;
  Result<Denylist> list = Denylist::Load(dir.path() + "/revoked.txt", "revoked.txt");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().message, "revoked.txt: cannot read: No such file or directory");
}

}  // namespace
}  // namespace certguard
