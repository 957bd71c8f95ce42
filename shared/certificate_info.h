#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/result.h"

namespace certguard {

// Where a device id may come from (design.md, "Identity sources").
enum class IdentitySource { kCn, kSanDns, kSanUri, kSanEmail, kSanIp, kSubject, kFingerprint };

struct SubjectAttribute {
  std::string type;   // OpenSSL short name: "CN", "OU", "O", "C", "emailAddress", ...
  std::string value;  // UTF-8

  bool operator==(const SubjectAttribute&) const = default;
};

struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using X509Ptr = std::shared_ptr<X509>;

// Everything certguard reads from a client certificate, extracted once per connection.
// Hostile certificates are refused here rather than normalised: any value with an embedded NUL,
// more than kMaxSubjectAltNames SAN entries, or a string that is not valid UTF-8 gives an Error.
struct CertificateInfo {
  static constexpr size_t kMaxSubjectAltNames = 100;

  // Takes its own reference to `cert` (X509_up_ref); the caller keeps its own.
  static Result<CertificateInfo> FromX509(X509* cert);
  static Result<CertificateInfo> FromDer(std::string_view der);
  // The first certificate in a PEM text.
  static Result<CertificateInfo> FromPem(std::string_view pem);
  // What EMQX sends without `peer_cert_as_username = pem`: the CN values joined by "," and the
  // RFC 4514 subject. Only the kCn and kSubject sources, and `subject` attributes, are available.
  // The CN values are taken from the parsed DN; `cn` must agree with them or this is an Error.
  // subject_dn is re-rendered from the parsed DN in FromX509's form rather than kept as sent
  // (EMQX escapes differently), so a `subject` template sees the same string on both brokers.
  static Result<CertificateInfo> FromSubjectStrings(std::string_view cn, std::string_view dn);

  // False for FromSubjectStrings: no SANs, serial, fingerprint, issuer, dates or signature.
  bool has_full_certificate = false;

  std::vector<std::string> common_names;  // certificate order
  std::vector<std::string> san_dns;
  std::vector<std::string> san_uri;
  std::vector<std::string> san_email;
  std::vector<std::string> san_ip;        // "192.0.2.1", "2001:db8::1" (inet_ntop form)
  std::vector<SubjectAttribute> subject;  // certificate order (least specific first, as in DER)
  std::string subject_dn;  // RFC 4514 (most specific first), OpenSSL XN_FLAG_RFC2253 form
  std::string issuer_dn;   // same form; also the key that finds this certificate's CRL
  std::string serial_hex;  // uppercase hex, no leading zeros, "0" for zero
  std::string sha256_hex;  // lowercase hex SHA-256 of the DER encoding
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;   // Unix seconds
  X509Ptr x509;            // null without a full certificate

  // The values of one identity source, in certificate order: kSubject gives {subject_dn},
  // kFingerprint gives {sha256_hex}. Empty where the source is absent or unavailable.
  std::vector<std::string_view> Values(IdentitySource source) const;

  // Verifies this certificate's signature with the public key of a certificate in `issuers` whose
  // subject equals this certificate's issuer. False without a full certificate.
  bool IsSignedByOneOf(const std::vector<X509Ptr>& issuers) const;
};

// Reads every certificate of a PEM bundle. Error when the file is missing or holds none.
Result<std::vector<X509Ptr>> LoadCertificateBundle(const std::string& path);

}  // namespace certguard
