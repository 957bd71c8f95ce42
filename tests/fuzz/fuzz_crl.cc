// CRL files from anywhere (PEM or DER): loaded or refused with a message naming the file, never a
// crash. A mutated CRL almost never keeps a valid signature, so each input that OpenSSL can parse
// is also re-signed by the test CA (issuer set to it) and loaded again: that reaches what follows
// the signature check (dates, delta CRLs, serials). What loads must revoke exactly the serials
// OpenSSL lists, in CertificateInfo's form (checked here through BIGNUM, not Asn1IntegerToHex).
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/revocation_list.h"
#include "shared/x509_name.h"
#include "tests/support/test_pki.h"

namespace {

using certguard::CrlSet;
using certguard::RevocationStatus;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Fixture {
  certguard::testing::TempDir dir;
  certguard::testing::TestCa ca{"certguard fuzz CA"};
  std::shared_ptr<EVP_PKEY> key;
  std::vector<certguard::X509Ptr> cas;
  std::string path = dir.path() + "/input.crl";

  Fixture() {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(ca.key_pem().data(), static_cast<int>(ca.key_pem().size())), BIO_free);
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    Check(key != nullptr);
    X509_up_ref(ca.x509());
    cas.emplace_back(ca.x509(), certguard::X509Deleter());
  }
};

Fixture& TheFixture() {
  static Fixture* fixture = new Fixture();  // never destroyed: a fuzzer exits from anywhere
  return *fixture;
}

// BN_bn2hex with the leading zero nibble dropped: "0A1B" → "A1B", "-0A" → "-A", "0" stays.
std::string ReferenceSerial(const ASN1_INTEGER* serial) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(ASN1_INTEGER_to_BN(serial, nullptr), BN_free);
  Check(bn != nullptr);
  char* hex = BN_bn2hex(bn.get());
  Check(hex != nullptr);
  std::string text(hex);
  OPENSSL_free(hex);
  const size_t digits = text.starts_with('-') ? 1 : 0;
  while (text.size() > digits + 1 && text[digits] == '0') text.erase(digits, 1);
  return text;
}

certguard::Result<CrlSet> LoadBytes(std::string_view bytes) {
  Fixture& f = TheFixture();
  {
    std::ofstream out(f.path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    Check(out.good());
  }
  auto set = CrlSet::Load({f.path}, {"fuzz.crl"}, f.cas);
  if (!set.ok()) Check(set.error().message.starts_with("fuzz.crl: "));
  return set;
}

// Every CRL in a loaded set must answer for the serials it lists, for its issuer.
void CheckRevokes(const CrlSet& set, X509_CRL* crl) {
  certguard::CertificateInfo cert;
  cert.has_full_certificate = true;
  cert.issuer_dn = certguard::NameToRfc2253(X509_CRL_get_issuer(crl));
  const CrlSet::IssuerCrl* entry = set.FindIssuer(cert.issuer_dn);
  Check(entry != nullptr);
  std::unordered_set<std::string> expected;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; revoked != nullptr && i < sk_X509_REVOKED_num(revoked); ++i) {
    expected.insert(
        ReferenceSerial(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  // The serials held are exactly those listed: as many, and each of them.
  Check(entry->revoked_serials.size() == expected.size());
  for (const std::string& serial : expected) {
    cert.serial_hex = serial;
    // The earliest possible `now`, so that staleness never hides the answer.
    const RevocationStatus status = set.Check(cert, INT64_MIN, certguard::StaleCrlMode::kDeny);
    Check(status.kind == RevocationStatus::Kind::kRevokedByCrl);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)LoadBytes(bytes);

  const unsigned char* cursor = data;
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(
      d2i_X509_CRL(nullptr, &cursor, static_cast<long>(size)), X509_CRL_free);
  if (!crl) return 0;
  Fixture& f = TheFixture();
  if (X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(f.ca.x509())) != 1 ||
      X509_CRL_sign(crl.get(), f.key.get(), EVP_sha256()) <= 0) {
    return 0;
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &der);
  if (length <= 0) return 0;
  const std::string resigned(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  const auto set = LoadBytes(resigned);
  if (set.ok()) CheckRevokes(set.value(), crl.get());
  return 0;
}
