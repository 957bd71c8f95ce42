#include "shared/certificate_info.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <string>
#include <vector>

#include "tests/support/test_pki.h"

namespace certguard {
namespace {

using ::certguard::testing::IssuedCertificate;
using ::certguard::testing::LeafSpec;
using ::certguard::testing::TempDir;
using ::certguard::testing::TestCa;
using ::certguard::testing::WithCn;

std::vector<std::string> Strings(const std::vector<std::string_view>& views) {
  return std::vector<std::string>(views.begin(), views.end());
}

// A copy of `cert` whose subject is replaced by `name`; the signature no longer verifies, which
// does not matter to parsing. Lets tests use string types test_pki does not produce.
X509Ptr WithSubject(const IssuedCertificate& cert, X509_NAME* name) {
  X509Ptr copy(X509_dup(cert.x509.get()), X509Deleter());
  EXPECT_EQ(X509_set_subject_name(copy.get(), name), 1);
  // Drop the cached TBS encoding so a DER round trip carries the new subject.
  EXPECT_GT(i2d_re_X509_tbs(copy.get(), nullptr), 0);
  return copy;
}

// A copy of `cert` with an extra subjectAltName extension holding one IP of `length` bytes.
X509Ptr WithExtraIpSan(const IssuedCertificate& cert, int length) {
  X509Ptr copy(X509_dup(cert.x509.get()), X509Deleter());
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_OCTET_STRING* ip = ASN1_OCTET_STRING_new();
  const std::string bytes(static_cast<size_t>(length), '\x01');
  ASN1_OCTET_STRING_set(ip, reinterpret_cast<const unsigned char*>(bytes.data()), length);
  GENERAL_NAME_set0_value(name, GEN_IPADD, ip);
  sk_GENERAL_NAME_push(names, name);
  EXPECT_EQ(X509_add1_ext_i2d(copy.get(), NID_subject_alt_name, names, 0, X509V3_ADD_APPEND), 1);
  GENERAL_NAMES_free(names);
  return copy;
}

class CertificateInfoTest : public ::testing::Test {
 protected:
  TestCa ca_;
};

TEST_F(CertificateInfoTest, ExtractsEverySourceFromARealCertificate) {
  LeafSpec spec;
  spec.subject = {{"C", "DE"}, {"O", "Example"}, {"OU", "devices"}, {"CN", "sensor-1"}};
  spec.san_dns = {"sensor-1.devices.example.com", "alt.example.com"};
  spec.san_uri = {"spiffe://iot.example.com/device/sensor-1", "urn:example:1"};
  spec.san_email = {"sensor-1@example.com", "ops@example.com"};
  spec.san_ip = {"192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1"};
  IssuedCertificate cert = ca_.Issue(spec);

  auto info = CertificateInfo::FromPem(cert.cert_pem);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->has_full_certificate);
  EXPECT_EQ(info->common_names, std::vector<std::string>{"sensor-1"});
  EXPECT_EQ(info->san_dns, spec.san_dns);
  EXPECT_EQ(info->san_uri, spec.san_uri);
  EXPECT_EQ(info->san_email, spec.san_email);
  EXPECT_EQ(info->san_ip,
            (std::vector<std::string>{"192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1"}));
  EXPECT_EQ(info->subject,
            (std::vector<SubjectAttribute>{
                {"C", "DE"}, {"O", "Example"}, {"OU", "devices"}, {"CN", "sensor-1"}}));
  EXPECT_EQ(info->subject_dn, "CN=sensor-1,OU=devices,O=Example,C=DE");
  EXPECT_EQ(info->issuer_dn, "CN=certguard test CA,O=certguard tests");
  EXPECT_EQ(info->serial_hex, cert.serial_hex);
  EXPECT_EQ(info->sha256_hex, cert.sha256_hex);
  ASSERT_NE(info->x509, nullptr);
  EXPECT_EQ(X509_cmp(info->x509.get(), cert.x509.get()), 0);

  EXPECT_EQ(Strings(info->Values(IdentitySource::kCn)), info->common_names);
  EXPECT_EQ(Strings(info->Values(IdentitySource::kSanDns)), spec.san_dns);
  EXPECT_EQ(Strings(info->Values(IdentitySource::kSanUri)), spec.san_uri);
  EXPECT_EQ(Strings(info->Values(IdentitySource::kSanEmail)), spec.san_email);
  EXPECT_EQ(Strings(info->Values(IdentitySource::kSanIp)), info->san_ip);
  EXPECT_EQ(Strings(info->Values(IdentitySource::kSubject)),
            std::vector<std::string>{"CN=sensor-1,OU=devices,O=Example,C=DE"});
  EXPECT_EQ(Strings(info->Values(IdentitySource::kFingerprint)),
            std::vector<std::string>{cert.sha256_hex});
}

TEST_F(CertificateInfoTest, DerPemAndX509GiveTheSameResult) {
  IssuedCertificate cert = ca_.Issue(WithCn("sensor-1"));
  auto from_pem = CertificateInfo::FromPem(cert.cert_pem);
  auto from_der = CertificateInfo::FromDer(cert.cert_der);
  auto from_x509 = CertificateInfo::FromX509(cert.x509.get());
  ASSERT_TRUE(from_pem.ok() && from_der.ok() && from_x509.ok());
  EXPECT_EQ(from_der->sha256_hex, from_pem->sha256_hex);
  EXPECT_EQ(from_x509->sha256_hex, from_pem->sha256_hex);
  EXPECT_EQ(from_der->subject_dn, from_pem->subject_dn);
  // FromX509 holds its own reference.
  EXPECT_EQ(from_x509->x509.get(), cert.x509.get());
}

TEST_F(CertificateInfoTest, WithoutSubjectAltNamesTheSanSourcesAreEmpty) {
  auto info = CertificateInfo::FromPem(ca_.Issue(WithCn("sensor-1")).cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->Values(IdentitySource::kSanDns).empty());
  EXPECT_TRUE(info->Values(IdentitySource::kSanIp).empty());
}

TEST_F(CertificateInfoTest, ReportsSerialAndDatesAsIssued) {
  LeafSpec spec = WithCn("old");
  spec.serial = 0x00ABCDEF01ULL;
  spec.not_before_offset_seconds = -10 * 86400;
  spec.not_after_offset_seconds = -86400;
  IssuedCertificate cert = ca_.Issue(spec);
  auto info = CertificateInfo::FromDer(cert.cert_der);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->serial_hex, "ABCDEF01");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  EXPECT_NEAR(info->not_before, now - 10 * 86400, 5);
  EXPECT_NEAR(info->not_after, now - 86400, 5);
}

TEST_F(CertificateInfoTest, SubjectDnEscapesCommasAndKeepsUtf8Readable) {
  LeafSpec spec;
  spec.subject = {{"O", "Example, Inc."}, {"L", "Zürich"}, {"CN", "a+b"}};
  auto info = CertificateInfo::FromPem(ca_.Issue(spec).cert_pem);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->subject_dn, "CN=a\\+b,L=Zürich,O=Example\\, Inc.");
  EXPECT_EQ(info->subject[1].value, "Zürich");
}

TEST_F(CertificateInfoTest, SeveralCommonNamesAreKeptInCertificateOrder) {
  LeafSpec spec;
  spec.subject = {{"CN", "first"}, {"O", "Example"}, {"CN", "second"}};
  auto info = CertificateInfo::FromPem(ca_.Issue(spec).cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_names, (std::vector<std::string>{"first", "second"}));
}

TEST_F(CertificateInfoTest, UnknownAttributeTypesAreNamedByOid) {
  LeafSpec spec;
  spec.subject = {{"1.3.6.1.4.1.55555.1", "tenant-7"}, {"CN", "sensor-1"}};
  auto info = CertificateInfo::FromPem(ca_.Issue(spec).cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->subject[0].type, "1.3.6.1.4.1.55555.1");
  EXPECT_EQ(info->subject[0].value, "tenant-7");
}

TEST_F(CertificateInfoTest, BmpStringValuesAreConvertedToUtf8) {
  IssuedCertificate cert = ca_.Issue(WithCn("placeholder"));
  X509_NAME* name = X509_NAME_new();
  const unsigned char bmp[] = {0x00, 'Z', 0x00, 0xFC, 0x00, 'r'};  // "Zür" in UTF-16BE
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_BMPSTRING, bmp, sizeof(bmp), -1, 0), 1);
  X509Ptr modified = WithSubject(cert, name);
  X509_NAME_free(name);
  auto info = CertificateInfo::FromX509(modified.get());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->common_names, std::vector<std::string>{"Zür"});
}

TEST_F(CertificateInfoTest, RefusesEmbeddedNulInCommonName) {
  auto info =
      CertificateInfo::FromPem(ca_.Issue(WithCn(std::string("victim\0.evil", 12))).cert_pem);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("CN"), std::string::npos) << info.error().message;
  EXPECT_NE(info.error().message.find("NUL"), std::string::npos) << info.error().message;
}

TEST_F(CertificateInfoTest, RefusesEmbeddedNulInOtherSubjectAttributes) {
  LeafSpec spec;
  spec.subject = {{"OU", std::string("plat\0form", 9)}, {"CN", "sensor-1"}};
  auto info = CertificateInfo::FromPem(ca_.Issue(spec).cert_pem);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("OU"), std::string::npos) << info.error().message;
}

TEST_F(CertificateInfoTest, RefusesEmbeddedNulInBmpString) {
  IssuedCertificate cert = ca_.Issue(WithCn("placeholder"));
  X509_NAME* name = X509_NAME_new();
  const unsigned char bmp[] = {0x00, 'a', 0x00, 0x00, 0x00, 'b'};
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_BMPSTRING, bmp, sizeof(bmp), -1, 0), 1);
  X509Ptr modified = WithSubject(cert, name);
  X509_NAME_free(name);
  EXPECT_FALSE(CertificateInfo::FromX509(modified.get()).ok());
}

// OpenSSL 3 can neither encode nor decode a name holding invalid UTF-8, so such a certificate
// never gets this far from DER; an X509 altered in memory still reaches the UTF-8 check.
TEST_F(CertificateInfoTest, RefusesInvalidUtf8InSubject) {
  IssuedCertificate cert = ca_.Issue(WithCn("placeholder"));
  X509Ptr copy(X509_dup(cert.x509.get()), X509Deleter());
  ASN1_STRING* cn =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(copy.get()), 0));
  ASSERT_EQ(ASN1_STRING_set(cn, "bad\xC3(", 5), 1);
  auto info = CertificateInfo::FromX509(copy.get());
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("CN"), std::string::npos) << info.error().message;
}

TEST_F(CertificateInfoTest, RefusesEmbeddedNulOrInvalidUtf8InSubjectAltNames) {
  struct Case {
    const char* field;
    LeafSpec spec;
  };
  std::vector<Case> cases(5);
  cases[0] = {"san_dns", WithCn("x")};
  cases[0].spec.san_dns = {std::string("victim.example.com\0.evil", 24)};
  cases[1] = {"san_uri", WithCn("x")};
  cases[1].spec.san_uri = {std::string("spiffe://a/device/x\0y", 21)};
  cases[2] = {"san_email", WithCn("x")};
  cases[2].spec.san_email = {std::string("a\0@example.com", 14)};
  cases[3] = {"san_dns", WithCn("x")};
  cases[3].spec.san_dns = {"caf\xE9.example.com"};  // Latin-1, not UTF-8
  cases[4] = {"san_uri", WithCn("x")};
  cases[4].spec.san_uri = {"urn:\xED\xA0\x80"};  // an encoded surrogate
  for (const Case& c : cases) {
    auto info = CertificateInfo::FromPem(ca_.Issue(c.spec).cert_pem);
    ASSERT_FALSE(info.ok()) << c.field;
    EXPECT_NE(info.error().message.find(c.field), std::string::npos) << info.error().message;
  }
}

TEST_F(CertificateInfoTest, RefusesTooManySubjectAltNames) {
  LeafSpec spec = WithCn("x");
  for (int i = 0; i < 1000; ++i) spec.san_dns.push_back("d" + std::to_string(i) + ".example.com");
  auto info = CertificateInfo::FromPem(ca_.Issue(spec).cert_pem);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("subjectAltName"), std::string::npos);
}

TEST_F(CertificateInfoTest, AcceptsExactlyTheMaximumNumberOfSubjectAltNames) {
  LeafSpec spec = WithCn("x");
  for (size_t i = 0; i < CertificateInfo::kMaxSubjectAltNames; ++i) {
    spec.san_dns.push_back("d" + std::to_string(i) + ".example.com");
  }
  auto info = CertificateInfo::FromPem(ca_.Issue(spec).cert_pem);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->san_dns.size(), CertificateInfo::kMaxSubjectAltNames);
}

TEST_F(CertificateInfoTest, RefusesIpAddressOfOddLength) {
  IssuedCertificate cert = ca_.Issue(WithCn("x"));
  X509Ptr modified = WithExtraIpSan(cert, 5);
  auto info = CertificateInfo::FromX509(modified.get());
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("san_ip"), std::string::npos) << info.error().message;
}

TEST_F(CertificateInfoTest, RefusesASecondSubjectAltNameExtension) {
  LeafSpec spec = WithCn("x");
  spec.san_dns = {"a.example.com"};
  IssuedCertificate cert = ca_.Issue(spec);
  X509Ptr modified = WithExtraIpSan(cert, 4);
  auto info = CertificateInfo::FromX509(modified.get());
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("more than one"), std::string::npos) << info.error().message;
}

// Deliberate: length limits belong to id validation (which names the reason), not to parsing.
TEST_F(CertificateInfoTest, ParsesAVeryLongCommonName) {
  const std::string cn(10 * 1024, 'a');
  auto info = CertificateInfo::FromPem(ca_.Issue(WithCn(cn)).cert_pem);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->common_names, std::vector<std::string>{cn});
}

TEST_F(CertificateInfoTest, RejectsInputThatIsNotACertificate) {
  EXPECT_FALSE(CertificateInfo::FromPem("").ok());
  EXPECT_FALSE(
      CertificateInfo::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
          .ok());
  EXPECT_FALSE(CertificateInfo::FromDer("").ok());
  EXPECT_FALSE(CertificateInfo::FromDer("\x30\x03\x02\x01\x01").ok());
  EXPECT_FALSE(CertificateInfo::FromX509(nullptr).ok());
  IssuedCertificate cert = ca_.Issue(WithCn("x"));
  EXPECT_FALSE(CertificateInfo::FromDer(cert.cert_der + "junk").ok());
}

TEST_F(CertificateInfoTest, IsSignedByItsCaButNotByAnotherOrAnImpostorWithTheSameName) {
  TestCa other("another CA");
  TestCa impostor;  // same subject as ca_, different key
  auto info = CertificateInfo::FromPem(ca_.Issue(WithCn("x")).cert_pem);
  ASSERT_TRUE(info.ok());
  auto own = X509Ptr(ca_.x509(), X509Deleter());
  X509_up_ref(ca_.x509());
  auto unrelated = X509Ptr(other.x509(), X509Deleter());
  X509_up_ref(other.x509());
  auto same_name = X509Ptr(impostor.x509(), X509Deleter());
  X509_up_ref(impostor.x509());

  EXPECT_TRUE(info->IsSignedByOneOf({own}));
  EXPECT_TRUE(info->IsSignedByOneOf({unrelated, same_name, own}));
  EXPECT_FALSE(info->IsSignedByOneOf({unrelated}));
  EXPECT_FALSE(info->IsSignedByOneOf({same_name}));
  EXPECT_FALSE(info->IsSignedByOneOf({}));
  EXPECT_FALSE(info->IsSignedByOneOf({nullptr}));
}

TEST(LoadCertificateBundleTest, ReadsEveryCertificateOfABundle) {
  TestCa first("first CA");
  TestCa second("second CA");
  TempDir dir;
  auto bundle = LoadCertificateBundle(dir.Write("ca.crt", first.cert_pem() + second.cert_pem()));
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  ASSERT_EQ(bundle->size(), 2u);
  EXPECT_EQ(X509_cmp(bundle.value()[1].get(), second.x509()), 0);
}

TEST(LoadCertificateBundleTest, NamesTheFileInEveryError) {
  TempDir dir;
  const std::string missing = dir.path() + "/missing.crt";
  auto not_there = LoadCertificateBundle(missing);
  ASSERT_FALSE(not_there.ok());
  EXPECT_EQ(not_there.error().message.rfind(missing + ": cannot read", 0), 0u)
      << not_there.error().message;

  const std::string empty = dir.Write("empty.crt", "# nothing here\n");
  auto none = LoadCertificateBundle(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, empty + ": no certificate found");

  TestCa ca;
  const std::string broken =
      dir.Write("broken.crt",
                ca.cert_pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  auto bad = LoadCertificateBundle(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind(broken + ": ", 0), 0u) << bad.error().message;
}

// ---- FromSubjectStrings: what EMQX sends without peer_cert_as_username = pem ----

TEST(FromSubjectStringsTest, ParsesEmqxStyleDnInCertificateOrder) {
  auto info = CertificateInfo::FromSubjectStrings("sensor-1", "CN=sensor-1,OU=devices,O=Example");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_FALSE(info->has_full_certificate);
  EXPECT_EQ(info->subject, (std::vector<SubjectAttribute>{
                               {"O", "Example"}, {"OU", "devices"}, {"CN", "sensor-1"}}));
  EXPECT_EQ(info->common_names, std::vector<std::string>{"sensor-1"});
  EXPECT_EQ(info->subject_dn, "CN=sensor-1,OU=devices,O=Example");
  EXPECT_EQ(Strings(info->Values(IdentitySource::kCn)), std::vector<std::string>{"sensor-1"});
  EXPECT_TRUE(info->Values(IdentitySource::kSanDns).empty());
  EXPECT_TRUE(info->Values(IdentitySource::kFingerprint).empty());
  EXPECT_EQ(info->x509, nullptr);
  EXPECT_FALSE(info->IsSignedByOneOf({}));
}

TEST(FromSubjectStringsTest, UnescapesSpecialCharactersAndHexPairs) {
  auto info = CertificateInfo::FromSubjectStrings(
      "a,b+c\"d\\e", "CN=a\\,b\\+c\\\"d\\\\e,L=Z\\C3\\BCrich,O=x\\3Dy=z\\7E");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->subject, (std::vector<SubjectAttribute>{
                               {"O", "x=y=z~"}, {"L", "Zürich"}, {"CN", "a,b+c\"d\\e"}}));
}

TEST(FromSubjectStringsTest, EscapedLeadingHashAndSpacesAreValues) {
  auto info = CertificateInfo::FromSubjectStrings("#1 ", "CN=\\#1\\ ");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->common_names, std::vector<std::string>{"#1 "});
}

TEST(FromSubjectStringsTest, MultiValuedRdnKeepsItsAttributesTogether) {
  auto info = CertificateInfo::FromSubjectStrings("sensor-1", "CN=sensor-1+UID=42,O=Example");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->subject,
            (std::vector<SubjectAttribute>{{"O", "Example"}, {"CN", "sensor-1"}, {"UID", "42"}}));
  // OpenSSL's RFC 2253 printer reverses the entries inside an RDN as well; FromX509 prints a
  // real certificate the same way (see SubjectStringsAgreeWithAMultiValuedRdnCertificate).
  EXPECT_EQ(info->subject_dn, "UID=42+CN=sensor-1,O=Example");
}

TEST(FromSubjectStringsTest, SeveralCommonNamesAreJoinedWithCommasInCertificateOrder) {
  EXPECT_TRUE(CertificateInfo::FromSubjectStrings("first,second", "CN=second,O=x,CN=first").ok());
  auto wrong_order = CertificateInfo::FromSubjectStrings("second,first", "CN=second,O=x,CN=first");
  ASSERT_FALSE(wrong_order.ok());
  EXPECT_EQ(wrong_order.error().message, "cn does not agree with dn");
}

TEST(FromSubjectStringsTest, RefusesCnThatDisagreesWithDn) {
  for (auto [cn, dn] : std::vector<std::pair<std::string, std::string>>{
           {"admin", "CN=sensor-1,O=Example"},
           {"sensor-1", "O=Example"},
           {"", "CN=sensor-1"},
       }) {
    auto info = CertificateInfo::FromSubjectStrings(cn, dn);
    ASSERT_FALSE(info.ok()) << cn << " / " << dn;
    EXPECT_EQ(info.error().message, "cn does not agree with dn");
  }
  EXPECT_TRUE(CertificateInfo::FromSubjectStrings("", "O=Example").ok());
}

TEST(FromSubjectStringsTest, RefusesMissingSubject) {
  auto none = CertificateInfo::FromSubjectStrings("", "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "no certificate");
  EXPECT_FALSE(CertificateInfo::FromSubjectStrings("sensor-1", "").ok());
}

TEST(FromSubjectStringsTest, RefusesMalformedDns) {
  for (const char* dn : {
           "CN=#0403616263",  // BER value
           "CN=a,",           // empty RDN
           "CN=a+",           // empty attribute
           "=a",              // no type
           "CN",              // no '='
           "CN=a\\",          // dangling escape
           "CN=a\\x",         // not an escapable character
           "CN=a;O=b",        // ';' is not a separator in RFC 4514
           "CN=a\"b",         // unescaped quote
           "NOSUCHTYPE=a",    // unknown attribute keyword
           "CN=a\\00b",       // NUL through an escape
           "CN=\\FF",         // invalid UTF-8 through an escape
       }) {
    std::string cn = "a";
    EXPECT_FALSE(CertificateInfo::FromSubjectStrings(cn, dn).ok()) << dn;
  }
  auto nul = CertificateInfo::FromSubjectStrings("a", "CN=a\\00b");
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().message.find("NUL"), std::string::npos) << nul.error().message;
}

TEST(FromSubjectStringsTest, AcceptsEmqxAndRfcAttributeKeywordsAndOids) {
  auto info = CertificateInfo::FromSubjectStrings(
      "x",
      "EMAILADDRESS=a@example.com,SERIALNUMBER=123,commonName=x,2.5.4.11=ops,"
      "1.3.6.1.4.1.55555.1=tenant,dc=example");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->subject, (std::vector<SubjectAttribute>{{"DC", "example"},
                                                          {"1.3.6.1.4.1.55555.1", "tenant"},
                                                          {"OU", "ops"},
                                                          {"CN", "x"},
                                                          {"serialNumber", "123"},
                                                          {"emailAddress", "a@example.com"}}));
}

// The exhook may receive the same device's identity as cn/dn strings or as a full certificate;
// both must give the same subject, CN and subject_dn, so `subject` and `cn` templates and
// `subject:` groups behave identically on both paths.
TEST_F(CertificateInfoTest, SubjectStringsAgreeWithTheCertificateTheyDescribe) {
  LeafSpec spec;
  spec.subject = {
      {"C", "CH"}, {"L", "Zürich"}, {"O", "Example, Inc."}, {"OU", "devices"}, {"CN", "sensor #1"}};
  auto from_cert = CertificateInfo::FromPem(ca_.Issue(spec).cert_pem);
  ASSERT_TRUE(from_cert.ok());
  // As esockd_ssl formats it: bytes >= 0x7E escaped as \XX, ',' escaped.
  auto from_strings = CertificateInfo::FromSubjectStrings(
      "sensor #1", "CN=sensor #1,OU=devices,O=Example\\, Inc.,L=Z\\C3\\BCrich,C=CH");
  ASSERT_TRUE(from_strings.ok()) << from_strings.error().message;
  EXPECT_EQ(from_strings->subject, from_cert->subject);
  EXPECT_EQ(from_strings->common_names, from_cert->common_names);
  EXPECT_EQ(from_strings->subject_dn, from_cert->subject_dn);
}

TEST_F(CertificateInfoTest, SubjectStringsAgreeWithAMultiValuedRdnCertificate) {
  IssuedCertificate cert = ca_.Issue(WithCn("placeholder"));
  X509_NAME* name = X509_NAME_new();
  const auto* o = reinterpret_cast<const unsigned char*>("Example");
  const auto* cn = reinterpret_cast<const unsigned char*>("sensor-1");
  const auto* uid = reinterpret_cast<const unsigned char*>("42");
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, o, -1, -1, 0), 1);
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "UID", MBSTRING_UTF8, uid, -1, -1, 0), 1);
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, -1, -1, -1), 1);
  X509Ptr modified = WithSubject(cert, name);
  X509_NAME_free(name);
  // Through DER, as a broker sees it: the SET OF is re-sorted (CN's encoding sorts first).
  unsigned char* der = nullptr;
  const int length = i2d_X509(modified.get(), &der);
  ASSERT_GT(length, 0);
  auto from_cert = CertificateInfo::FromDer(std::string_view(reinterpret_cast<char*>(der), length));
  OPENSSL_free(der);
  ASSERT_TRUE(from_cert.ok()) << from_cert.error().message;
  // esockd_ssl lists an RDN's members in DER order.
  auto from_strings =
      CertificateInfo::FromSubjectStrings("sensor-1", "CN=sensor-1+UID=42,O=Example");
  ASSERT_TRUE(from_strings.ok()) << from_strings.error().message;
  EXPECT_EQ(from_strings->subject, from_cert->subject);
  EXPECT_EQ(from_strings->subject_dn, from_cert->subject_dn);
}

}  // namespace
}  // namespace certguard
