#include "tests/support/test_pki.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace certguard::testing {
namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

std::unique_ptr<X509, X509Free> ParsePem(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<X509, X509Free>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::unique_ptr<X509_CRL, CrlFree> ParseCrlPem(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<X509_CRL, CrlFree>(
      PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
}

// Seconds from now to `time` (positive: in the future).
int64_t SecondsFromNow(const ASN1_TIME* time) {
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, time), 1);
  return static_cast<int64_t>(days) * 86400 + seconds;
}

int VerifyChain(const TestCa& ca, X509* leaf, X509_CRL* crl = nullptr) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.x509());
  if (crl != nullptr) {
    X509_STORE_add_crl(store.get(), crl);
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_verify_cert(ctx.get());
  return X509_STORE_CTX_get_error(ctx.get());
}

TEST(TestPkiTest, LeafIsSignedByItsCaAndVerifiesAsAChain) {
  TestCa ca;
  IssuedCertificate leaf = ca.Issue(WithCn("sensor-1"));
  auto parsed = ParsePem(leaf.cert_pem);
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(X509_verify(parsed.get(), X509_get0_pubkey(ca.x509())), 1);
  EXPECT_EQ(VerifyChain(ca, parsed.get()), X509_V_OK);
  EXPECT_EQ(X509_check_purpose(parsed.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_ca(parsed.get()), 0);
  EXPECT_EQ(X509_check_ca(ca.x509()), 1);
}

TEST(TestPkiTest, LeafDoesNotVerifyAgainstAnotherCa) {
  TestCa ca;
  TestCa other("another CA");
  IssuedCertificate leaf = ca.Issue(WithCn("sensor-1"));
  EXPECT_NE(X509_verify(leaf.x509.get(), X509_get0_pubkey(other.x509())), 1);
}

TEST(TestPkiTest, PrivateKeyMatchesCertificate) {
  TestCa ca;
  IssuedCertificate leaf = ca.Issue(WithCn("sensor-1"));
  EXPECT_NE(leaf.key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(leaf.key_pem.data(), static_cast<int>(leaf.key_pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(leaf.x509.get(), key.get()), 1);
}

TEST(TestPkiTest, SerialsAreUniqueUnlessChosenAndReportedWithoutLeadingZeros) {
  TestCa ca;
  IssuedCertificate a = ca.Issue(WithCn("a"));
  IssuedCertificate b = ca.Issue(WithCn("b"));
  EXPECT_NE(a.serial_hex, b.serial_hex);
  LeafSpec spec = WithCn("c");
  spec.serial = 0x0abc;
  EXPECT_EQ(ca.Issue(spec).serial_hex, "ABC");
}

TEST(TestPkiTest, DerAndFingerprintDescribeTheSameCertificate) {
  TestCa ca;
  IssuedCertificate leaf = ca.Issue(WithCn("sensor-1"));
  const auto* p = reinterpret_cast<const unsigned char*>(leaf.cert_der.data());
  std::unique_ptr<X509, X509Free> parsed(
      d2i_X509(nullptr, &p, static_cast<long>(leaf.cert_der.size())));
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(X509_cmp(parsed.get(), leaf.x509.get()), 0);
  EXPECT_EQ(leaf.sha256_hex.size(), 64u);
  EXPECT_EQ(leaf.sha256_hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(TestPkiTest, ValidityOffsetsMayPlaceCertificateInThePastOrFuture) {
  TestCa ca;
  LeafSpec expired = WithCn("old");
  expired.not_before_offset_seconds = -10 * 86400;
  expired.not_after_offset_seconds = -86400;
  IssuedCertificate old = ca.Issue(expired);
  EXPECT_NEAR(SecondsFromNow(X509_get0_notAfter(old.x509.get())), -86400, 5);
  EXPECT_EQ(VerifyChain(ca, old.x509.get()), X509_V_ERR_CERT_HAS_EXPIRED);

  LeafSpec future = WithCn("new");
  future.not_before_offset_seconds = 86400;
  IssuedCertificate early = ca.Issue(future);
  EXPECT_NEAR(SecondsFromNow(X509_get0_notBefore(early.x509.get())), 86400, 5);
  EXPECT_EQ(VerifyChain(ca, early.x509.get()), X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST(TestPkiTest, CrlListsTheRevokedSerialsAndIsSignedByTheCa) {
  TestCa ca;
  IssuedCertificate revoked = ca.Issue(WithCn("revoked"));
  IssuedCertificate good = ca.Issue(WithCn("good"));
  auto crl = ParseCrlPem(ca.CrlPem({revoked.serial_hex}));
  ASSERT_NE(crl, nullptr);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.x509())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.x509())), 0);
  X509_REVOKED* entry = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_cert(crl.get(), &entry, revoked.x509.get()), 1);
  EXPECT_EQ(X509_CRL_get0_by_cert(crl.get(), &entry, good.x509.get()), 0);
  EXPECT_NEAR(SecondsFromNow(X509_CRL_get0_nextUpdate(crl.get())), 86400, 5);

  EXPECT_EQ(VerifyChain(ca, revoked.x509.get(), crl.get()), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(VerifyChain(ca, good.x509.get(), crl.get()), X509_V_OK);
}

TEST(TestPkiTest, CrlDerCarriesAGrowingCrlNumber) {
  TestCa ca;
  auto number = [](const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<X509_CRL, CrlFree> crl(
        d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
    EXPECT_NE(crl, nullptr);
    if (crl == nullptr) return uint64_t{0};
    auto* value = static_cast<ASN1_INTEGER*>(
        X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr));
    EXPECT_NE(value, nullptr);
    uint64_t out = 0;
    if (value != nullptr) ASN1_INTEGER_get_uint64(&out, value);
    ASN1_INTEGER_free(value);
    return out;
  };
  uint64_t first = number(ca.CrlDer({}));
  uint64_t second = number(ca.CrlDer({"1234"}));
  EXPECT_GT(second, first);
}

TEST(TestPkiTest, StaleCrlHasNextUpdateInThePast) {
  TestCa ca;
  auto crl = ParseCrlPem(ca.CrlPem({}, -60, -3600));
  ASSERT_NE(crl, nullptr);
  EXPECT_LT(SecondsFromNow(X509_CRL_get0_nextUpdate(crl.get())), 0);
  EXPECT_LT(SecondsFromNow(X509_CRL_get0_lastUpdate(crl.get())), 0);
}

TEST(TestPkiTest, SubjectKeepsOrderAndRawBytesIncludingNul) {
  TestCa ca;
  LeafSpec spec;
  spec.subject = {{"O", "Example"}, {"OU", "devices"}, {"CN", std::string("evil\0.example", 13)}};
  IssuedCertificate leaf = ca.Issue(spec);
  X509_NAME* name = X509_get_subject_name(leaf.x509.get());
  ASSERT_EQ(X509_NAME_entry_count(name), 3);
  EXPECT_EQ(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, 0))),
            NID_organizationName);
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, 2));
  EXPECT_EQ(ASN1_STRING_type(cn), V_ASN1_UTF8STRING);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                        static_cast<size_t>(ASN1_STRING_length(cn))),
            std::string("evil\0.example", 13));
}

TEST(TestPkiTest, ServerCertificateIsForLoopback) {
  TestCa ca;
  IssuedCertificate server = ca.IssueServer();
  EXPECT_EQ(X509_check_host(server.x509.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.x509.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_purpose(server.x509.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(VerifyChain(ca, server.x509.get()), X509_V_OK);
}

TEST(TestPkiTest, TempDirWritesNestedFilesAndRemovesEverything) {
  std::string root;
  {
    TempDir dir;
    root = dir.path();
    std::string path = dir.Write("crl/fleet.crl", "hello");
    std::ifstream in(path, std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    EXPECT_EQ(contents.str(), "hello");
    EXPECT_TRUE(std::filesystem::exists(root));
  }
  EXPECT_FALSE(std::filesystem::exists(root));
}

}  // namespace
}  // namespace certguard::testing
