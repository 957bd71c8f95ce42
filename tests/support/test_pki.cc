#include "tests/support/test_pki.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace certguard::testing {
namespace {

// Test support fails loudly: a certificate that cannot be made is a broken test, not a case to
// handle, so every OpenSSL failure throws with OpenSSL's own reason attached.
[[noreturn]] void Fail(const std::string& what) {
  std::string message = "test_pki: " + what;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    message += "; ";
    message += buffer;
  }
  throw std::runtime_error(message);
}

void Check(bool ok, const char* what) {
  if (!ok) Fail(what);
}

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct Asn1IntegerFree {
  void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
};
struct Asn1TimeFree {
  void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
};
struct ExtensionFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
struct GeneralNameFree {
  void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); }
};
struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
struct RevokedFree {
  void operator()(X509_REVOKED* p) const { X509_REVOKED_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Asn1IntegerFree>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Asn1TimeFree>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, ExtensionFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, GeneralNameFree>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, RevokedFree>;

std::shared_ptr<X509> NewX509() {
  X509* cert = X509_new();
  Check(cert != nullptr, "X509_new");
  return std::shared_ptr<X509>(cert, X509_free);
}

std::shared_ptr<EVP_PKEY> NewEcKey() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  Check(key != nullptr, "EVP_PKEY_Q_keygen(EC P-256)");
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

BioPtr NewMemBio() {
  BioPtr bio(BIO_new(BIO_s_mem()));
  Check(bio != nullptr, "BIO_new");
  return bio;
}

std::string CertPem(X509* cert) {
  BioPtr bio = NewMemBio();
  Check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  return BioContents(bio.get());
}

std::string CertDer(X509* cert) {
  unsigned char* der = nullptr;
  int size = i2d_X509(cert, &der);
  Check(size > 0, "i2d_X509");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio = NewMemBio();
  // PEM_write_bio_PrivateKey writes unencrypted PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
  Check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return BioContents(bio.get());
}

std::string SerialHex(X509* cert) {
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  Check(bn != nullptr, "ASN1_INTEGER_to_BN");
  char* hex = BN_bn2hex(bn.get());
  Check(hex != nullptr, "BN_bn2hex");
  std::string out(hex);
  OPENSSL_free(hex);
  // BN_bn2hex pads to whole bytes ("0A"); the contract is "no leading zeros".
  size_t first = out.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  return out.substr(first);
}

std::string Sha256Hex(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  Check(X509_digest(cert, EVP_sha256(), digest, &size) == 1, "X509_digest");
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

void AddSubjectEntry(X509_NAME* name, const std::string& type, const std::string& value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(value.data());
  const int length = static_cast<int>(value.size());
  if (X509_NAME_add_entry_by_txt(name, type.c_str(), MBSTRING_UTF8, bytes, length, -1, 0) == 1) {
    return;
  }
  // MBSTRING_UTF8 refuses values that break an attribute's size or charset rules (a 65-byte CN,
  // a 3-letter C); hostile tests need such certificates, so fall back to the raw UTF8String
  // bytes. (Invalid UTF-8 still fails later: OpenSSL 3 refuses to encode such a name at all.)
  ERR_clear_error();
  Check(
      X509_NAME_add_entry_by_txt(name, type.c_str(), V_ASN1_UTF8STRING, bytes, length, -1, 0) == 1,
      ("X509_NAME_add_entry_by_txt(" + type + ")").c_str());
}

void AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  Check(ext != nullptr, value);
  Check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

// An IA5String-valued GeneralName built from raw bytes, so tests can embed NULs that the
// textual "DNS:..." config syntax could not express.
void PushIa5Name(GENERAL_NAMES* names, int type, const std::string& value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  Check(name != nullptr, "GENERAL_NAME_new");
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  Check(ia5 != nullptr, "ASN1_IA5STRING_new");
  if (ASN1_STRING_set(ia5, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(ia5);
    Fail("ASN1_STRING_set");
  }
  GENERAL_NAME_set0_value(name.get(), type, ia5);
  Check(sk_GENERAL_NAME_push(names, name.get()) > 0, "sk_GENERAL_NAME_push");
  name.release();
}

void PushIpName(GENERAL_NAMES* names, const std::string& text) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(text.c_str());
  Check(ip != nullptr, ("a2i_IPADDRESS(" + text + ")").c_str());
  GeneralNamePtr name(GENERAL_NAME_new());
  if (name == nullptr) {
    ASN1_OCTET_STRING_free(ip);
    Fail("GENERAL_NAME_new");
  }
  GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip);
  Check(sk_GENERAL_NAME_push(names, name.get()) > 0, "sk_GENERAL_NAME_push");
  name.release();
}

void AddSubjectAltNames(X509* cert, const std::vector<std::string>& dns,
                        const std::vector<std::string>& uri, const std::vector<std::string>& email,
                        const std::vector<std::string>& ip) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  Check(names != nullptr, "sk_GENERAL_NAME_new_null");
  for (const auto& value : dns) PushIa5Name(names.get(), GEN_DNS, value);
  for (const auto& value : uri) PushIa5Name(names.get(), GEN_URI, value);
  for (const auto& value : email) PushIa5Name(names.get(), GEN_EMAIL, value);
  for (const auto& value : ip) PushIpName(names.get(), value);
  if (sk_GENERAL_NAME_num(names.get()) == 0) return;
  Check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1,
        "X509_add1_ext_i2d(subjectAltName)");
}

void SetValidity(X509* cert, int64_t not_before_offset, int64_t not_after_offset) {
  // X509_gmtime_adj accepts negative and positive offsets alike, so expired and not-yet-valid
  // certificates need no special case.
  Check(X509_gmtime_adj(X509_getm_notBefore(cert), static_cast<long>(not_before_offset)) != nullptr,
        "X509_gmtime_adj(notBefore)");
  Check(X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(not_after_offset)) != nullptr,
        "X509_gmtime_adj(notAfter)");
}

Asn1IntegerPtr SerialFromHex(const std::string& hex) {
  BIGNUM* raw = nullptr;
  Check(!hex.empty() && BN_hex2bn(&raw, hex.c_str()) == static_cast<int>(hex.size()),
        ("bad serial hex '" + hex + "'").c_str());
  BnPtr bn(raw);
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  Check(serial != nullptr, "BN_to_ASN1_INTEGER");
  return serial;
}

Asn1TimePtr TimeFromNow(int64_t offset_seconds) {
  Asn1TimePtr time(X509_gmtime_adj(nullptr, static_cast<long>(offset_seconds)));
  Check(time != nullptr, "X509_gmtime_adj");
  return time;
}

// CRL numbers must grow from one CRL to the next of the same CA (RFC 5280 5.2.3); starting from
// the clock keeps that true across test processes that share files, and the counter within one.
uint64_t NextCrlNumber() {
  static std::atomic<uint64_t> next{static_cast<uint64_t>(std::time(nullptr)) * 1000};
  return next.fetch_add(1);
}

}  // namespace

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  std::string pattern = base + "/certguard-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("test_pki: mkdtemp(" + pattern + ") failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(const std::string& name, const std::string& contents) const {
  std::filesystem::path full = std::filesystem::path(path_) / name;
  std::filesystem::create_directories(full.parent_path());
  // Write to a sibling and rename, so a reloader polling this file never sees half of it.
  std::filesystem::path partial = full;
  partial += ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) throw std::runtime_error("test_pki: cannot write " + partial.string());
  }
  std::filesystem::rename(partial, full);
  return full.string();
}

LeafSpec WithCn(const std::string& cn) {
  LeafSpec spec;
  spec.subject = {{"CN", cn}};
  return spec;
}

TestCa::TestCa(const std::string& common_name) {
  key_ = NewEcKey();
  cert_ = NewX509();
  X509* cert = cert_.get();
  Check(X509_set_version(cert, X509_VERSION_3) == 1, "X509_set_version");
  Check(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), 1) == 1, "serial");
  X509_NAME* name = X509_get_subject_name(cert);
  AddSubjectEntry(name, "O", "certguard tests");
  AddSubjectEntry(name, "CN", common_name);
  Check(X509_set_issuer_name(cert, name) == 1, "X509_set_issuer_name");
  SetValidity(cert, -86400, 10LL * 365 * 86400);
  Check(X509_set_pubkey(cert, key_.get()) == 1, "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  AddConfExtension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
  AddConfExtension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddConfExtension(cert, &ctx, NID_subject_key_identifier, "hash");
  AddConfExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  Check(X509_sign(cert, key_.get(), EVP_sha256()) > 0, "X509_sign(CA)");

  cert_pem_ = CertPem(cert);
  key_pem_ = KeyPem(key_.get());
}

TestCa::~TestCa() = default;

IssuedCertificate TestCa::Issue(const LeafSpec& spec) {
  std::shared_ptr<EVP_PKEY> key = NewEcKey();
  std::shared_ptr<X509> leaf = NewX509();
  X509* cert = leaf.get();
  Check(X509_set_version(cert, X509_VERSION_3) == 1, "X509_set_version");
  const uint64_t serial = spec.serial != 0 ? spec.serial : next_serial_++;
  Check(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial) == 1, "serial");

  // Added in place: X509_set_subject_name would copy the name through a DER round trip, which
  // OpenSSL 3 refuses for the invalid UTF-8 that hostile tests need.
  X509_NAME* subject = X509_get_subject_name(cert);
  for (const auto& [type, value] : spec.subject) AddSubjectEntry(subject, type, value);
  Check(X509_set_issuer_name(cert, X509_get_subject_name(cert_.get())) == 1,
        "X509_set_issuer_name");
  SetValidity(cert, spec.not_before_offset_seconds, spec.not_after_offset_seconds);
  Check(X509_set_pubkey(cert, key.get()) == 1, "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert_.get(), cert, nullptr, nullptr, 0);
  AddConfExtension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
  AddConfExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature");
  AddConfExtension(cert, &ctx, NID_ext_key_usage, "clientAuth");
  AddConfExtension(cert, &ctx, NID_subject_key_identifier, "hash");
  AddConfExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  AddSubjectAltNames(cert, spec.san_dns, spec.san_uri, spec.san_email, spec.san_ip);
  Check(X509_sign(cert, key_.get(), EVP_sha256()) > 0, "X509_sign(leaf)");

  IssuedCertificate issued;
  issued.cert_pem = CertPem(cert);
  issued.key_pem = KeyPem(key.get());
  issued.cert_der = CertDer(cert);
  issued.serial_hex = SerialHex(cert);
  issued.sha256_hex = Sha256Hex(cert);
  issued.x509 = std::move(leaf);
  return issued;
}

IssuedCertificate TestCa::IssueServer() {
  std::shared_ptr<EVP_PKEY> key = NewEcKey();
  std::shared_ptr<X509> server = NewX509();
  X509* cert = server.get();
  Check(X509_set_version(cert, X509_VERSION_3) == 1, "X509_set_version");
  Check(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), next_serial_++) == 1, "serial");
  AddSubjectEntry(X509_get_subject_name(cert), "CN", "localhost");
  Check(X509_set_issuer_name(cert, X509_get_subject_name(cert_.get())) == 1,
        "X509_set_issuer_name");
  SetValidity(cert, -3600, 30LL * 86400);
  Check(X509_set_pubkey(cert, key.get()) == 1, "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert_.get(), cert, nullptr, nullptr, 0);
  AddConfExtension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
  AddConfExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement");
  AddConfExtension(cert, &ctx, NID_ext_key_usage, "serverAuth");
  AddConfExtension(cert, &ctx, NID_subject_key_identifier, "hash");
  AddConfExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  AddSubjectAltNames(cert, {"localhost"}, {}, {}, {"127.0.0.1"});
  Check(X509_sign(cert, key_.get(), EVP_sha256()) > 0, "X509_sign(server)");

  IssuedCertificate issued;
  issued.cert_pem = CertPem(cert);
  issued.key_pem = KeyPem(key.get());
  issued.cert_der = CertDer(cert);
  issued.serial_hex = SerialHex(cert);
  issued.sha256_hex = Sha256Hex(cert);
  issued.x509 = std::move(server);
  return issued;
}

namespace {

CrlPtr MakeCrl(X509* ca, EVP_PKEY* key, const std::vector<std::string>& revoked_serials,
               int64_t next_update_offset, int64_t last_update_offset) {
  CrlPtr crl(X509_CRL_new());
  Check(crl != nullptr, "X509_CRL_new");
  Check(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) == 1, "X509_CRL_set_version");
  Check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)) == 1,
        "X509_CRL_set_issuer_name");
  Asn1TimePtr last_update = TimeFromNow(last_update_offset);
  Asn1TimePtr next_update = TimeFromNow(next_update_offset);
  Check(X509_CRL_set1_lastUpdate(crl.get(), last_update.get()) == 1, "lastUpdate");
  Check(X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) == 1, "nextUpdate");

  for (const auto& hex : revoked_serials) {
    RevokedPtr revoked(X509_REVOKED_new());
    Check(revoked != nullptr, "X509_REVOKED_new");
    Asn1IntegerPtr serial = SerialFromHex(hex);
    Check(X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) == 1,
          "X509_REVOKED_set_serialNumber");
    // Revoked at lastUpdate: the revocation date must not be later than the CRL's issue.
    Check(X509_REVOKED_set_revocationDate(revoked.get(), last_update.get()) == 1,
          "X509_REVOKED_set_revocationDate");
    Check(X509_CRL_add0_revoked(crl.get(), revoked.get()) == 1, "X509_CRL_add0_revoked");
    revoked.release();
  }

  Asn1IntegerPtr number(ASN1_INTEGER_new());
  Check(number != nullptr && ASN1_INTEGER_set_uint64(number.get(), NextCrlNumber()) == 1,
        "crl number");
  Check(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) == 1,
        "X509_CRL_add1_ext_i2d(crlNumber)");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, nullptr, nullptr, crl.get(), 0);
  ExtensionPtr aki(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  Check(aki != nullptr, "authorityKeyIdentifier");
  Check(X509_CRL_add_ext(crl.get(), aki.get(), -1) == 1, "X509_CRL_add_ext");

  Check(X509_CRL_sort(crl.get()) == 1, "X509_CRL_sort");
  Check(X509_CRL_sign(crl.get(), key, EVP_sha256()) > 0, "X509_CRL_sign");
  return crl;
}

}  // namespace

std::string TestCa::CrlPem(const std::vector<std::string>& revoked_serials,
                           int64_t next_update_offset_seconds,
                           int64_t last_update_offset_seconds) const {
  CrlPtr crl = MakeCrl(cert_.get(), key_.get(), revoked_serials, next_update_offset_seconds,
                       last_update_offset_seconds);
  BioPtr bio = NewMemBio();
  Check(PEM_write_bio_X509_CRL(bio.get(), crl.get()) == 1, "PEM_write_bio_X509_CRL");
  return BioContents(bio.get());
}

std::string TestCa::CrlDer(const std::vector<std::string>& revoked_serials,
                           int64_t next_update_offset_seconds,
                           int64_t last_update_offset_seconds) const {
  CrlPtr crl = MakeCrl(cert_.get(), key_.get(), revoked_serials, next_update_offset_seconds,
                       last_update_offset_seconds);
  unsigned char* der = nullptr;
  int size = i2d_X509_CRL(crl.get(), &der);
  Check(size > 0, "i2d_X509_CRL");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

}  // namespace certguard::testing
