#include "shared/x509_name.h"

#include <openssl/bio.h>

#include <memory>

namespace certguard {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

constexpr char kUpperHex[] = "0123456789ABCDEF";

}  // namespace

std::string NameToRfc2253(const X509_NAME* name) {
  if (name == nullptr) return "";
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  // ESC_MSB would print "é" as "\C3\A9"; RFC 4514 allows raw UTF-8, and it is what an operator
  // reads and writes in a policy `subject:` source.
  constexpr unsigned long kFlags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  if (X509_NAME_print_ex(bio.get(), name, 0, kFlags) < 0) return "";
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(length));
}

std::string Asn1IntegerToHex(const ASN1_INTEGER* value) {
  std::string hex;
  Asn1IntegerToHex(value, &hex);
  return hex;
}

void Asn1IntegerToHex(const ASN1_INTEGER* value, std::string* out) {
  std::string& hex = *out;
  hex.clear();
  if (value == nullptr) {
    hex = "0";
    return;
  }
  // Straight from the magnitude bytes rather than through a BIGNUM: a million-entry CRL would
  // otherwise cost two extra allocations per serial.
  const unsigned char* bytes = ASN1_STRING_get0_data(value);
  const int length = ASN1_STRING_length(value);
  int first = 0;
  while (first < length && bytes[first] == 0) ++first;
  if (first == length) {
    hex = "0";
    return;
  }
  const bool negative = ASN1_STRING_type(value) == V_ASN1_NEG_INTEGER;
  hex.reserve(static_cast<size_t>(length - first) * 2 + (negative ? 1 : 0));
  if (negative) hex.push_back('-');
  if (bytes[first] < 0x10) {
    hex.push_back(kUpperHex[bytes[first]]);
    ++first;
  }
  for (int i = first; i < length; ++i) {
    hex.push_back(kUpperHex[bytes[i] >> 4]);
    hex.push_back(kUpperHex[bytes[i] & 0x0F]);
  }
}

bool NormalizeSerialHex(std::string_view text, std::string* out) {
  std::string hex;
  hex.reserve(text.size());
  for (char c : text) {
    if (c == ':') continue;
    if (c >= '0' && c <= '9') {
      hex.push_back(c);
    } else if (c >= 'a' && c <= 'f') {
      hex.push_back(static_cast<char>(c - 'a' + 'A'));
    } else if (c >= 'A' && c <= 'F') {
      hex.push_back(c);
    } else {
      return false;
    }
  }
  if (hex.empty()) return false;
  const size_t first = hex.find_first_not_of('0');
  *out = first == std::string::npos ? "0" : hex.substr(first);
  return true;
}

}  // namespace certguard
