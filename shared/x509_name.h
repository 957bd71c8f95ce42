#pragma once

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <string>
#include <string_view>

// How certificate fields become strings. CertificateInfo (issuer_dn, subject_dn, serial_hex) and
// CrlSet (the issuer key, the revoked serials) must produce byte-identical strings, or a CRL
// silently stops matching its certificates; both therefore use these functions.
namespace certguard {

// The OpenSSL RFC 2253 rendering (most specific RDN first) of `name`, except that UTF-8 is kept
// as UTF-8 instead of being escaped as \XX bytes. "" for a null name or when printing fails.
std::string NameToRfc2253(const X509_NAME* name);

// Uppercase hex without leading zeros ("0" for zero, "-" prefix for a negative value): what
// BN_bn2hex prints with its leading zero nibble removed. Used for certificate and CRL serials.
std::string Asn1IntegerToHex(const ASN1_INTEGER* value);
// The same into `out`, which is cleared first: reading a million-serial CRL reuses one buffer.
void Asn1IntegerToHex(const ASN1_INTEGER* value, std::string* out);

// Normalises an operator-written hex serial the same way: ':' separators dropped, uppercase,
// leading zeros stripped ("0" for all zeros). False when `text` has no hex digit or a character
// that is neither a hex digit nor ':'.
bool NormalizeSerialHex(std::string_view text, std::string* out);

}  // namespace certguard
