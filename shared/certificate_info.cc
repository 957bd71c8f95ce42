#include "shared/certificate_info.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <strings.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

#include "shared/x509_name.h"

namespace certguard {
namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
struct NameFree {
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
};
struct ObjectFree {
  void operator()(ASN1_OBJECT* p) const { ASN1_OBJECT_free(p); }
};
struct OpensslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;
using NamePtr = std::unique_ptr<X509_NAME, NameFree>;
using ObjectPtr = std::unique_ptr<ASN1_OBJECT, ObjectFree>;

// OpenSSL leaves failure details on a per-thread queue; a long-lived broker thread must not let
// rejected certificates pile entries up there, nor leak them into an unrelated later check.
struct ClearErrorsOnExit {
  ~ClearErrorsOnExit() { ERR_clear_error(); }
};

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c == 0xE0) {
      extra = 2;
      lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      extra = 2;
    } else if (c == 0xED) {
      extra = 2;
      hi = 0x9F;
    } else if (c == 0xF0) {
      extra = 3;
      lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      extra = 3;
    } else if (c == 0xF4) {
      extra = 3;
      hi = 0x8F;
    } else {
      return false;
    }
    if (n - i - 1 < extra) return false;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < lo || second > hi) return false;
    for (size_t k = 2; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if (next < 0x80 || next > 0xBF) return false;
    }
    i += extra + 1;
  }
  return true;
}

// The one gate every extracted string passes: a NUL lets "victim\0.attacker" compare equal to
// "victim" in C code further down the line, and invalid UTF-8 has no meaning as a device id.
std::optional<Error> CheckText(std::string_view value, const std::string& field) {
  if (value.find('\0') != std::string_view::npos) {
    return Error{field + ": embedded NUL character"};
  }
  if (!IsValidUtf8(value)) return Error{field + ": not valid UTF-8"};
  return std::nullopt;
}

std::string AttributeTypeName(const ASN1_OBJECT* object) {
  const int nid = OBJ_obj2nid(object);
  if (nid != NID_undef) {
    if (const char* sn = OBJ_nid2sn(nid)) return sn;
  }
  char buffer[128];
  const int length = OBJ_obj2txt(buffer, sizeof(buffer), object, 1);
  if (length <= 0) return "?";
  if (static_cast<size_t>(length) >= sizeof(buffer)) return std::string(buffer) + "...";
  return std::string(buffer, static_cast<size_t>(length));
}

Result<std::vector<SubjectAttribute>> ReadSubject(const X509_NAME* name) {
  std::vector<SubjectAttribute> out;
  const int count = X509_NAME_entry_count(name);
  out.reserve(static_cast<size_t>(count > 0 ? count : 0));
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    SubjectAttribute attribute;
    attribute.type = AttributeTypeName(X509_NAME_ENTRY_get_object(entry));
    const std::string field = "subject " + attribute.type;
    unsigned char* utf8 = nullptr;
    // Converts BMPString, UniversalString and TeletexString (as Latin-1) to UTF-8, and for a
    // UTF8String checks the encoding; a NUL survives the conversion and is caught below.
    const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (length < 0) return Error{field + ": value is not a string convertible to UTF-8"};
    std::unique_ptr<unsigned char, OpensslFree> owned(utf8);
    attribute.value.assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
    if (auto error = CheckText(attribute.value, field)) return *error;
    out.push_back(std::move(attribute));
  }
  return out;
}

std::vector<std::string> CommonNamesOf(const std::vector<SubjectAttribute>& subject) {
  std::vector<std::string> names;
  for (const auto& attribute : subject) {
    if (attribute.type == "CN") names.push_back(attribute.value);
  }
  return names;
}

// SAN strings are IA5String. They are taken byte for byte rather than through
// ASN1_STRING_to_UTF8, which would read a stray high byte as Latin-1 and quietly turn it into a
// different (valid) string; such a value fails the UTF-8 check instead.
Result<std::string> ReadIa5(const ASN1_IA5STRING* value, const char* field) {
  std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                   static_cast<size_t>(ASN1_STRING_length(value)));
  if (auto error = CheckText(text, field)) return *error;
  return text;
}

Result<std::string> ReadIp(const ASN1_OCTET_STRING* value) {
  const unsigned char* bytes = ASN1_STRING_get0_data(value);
  const int length = ASN1_STRING_length(value);
  char text[INET6_ADDRSTRLEN] = {};
  int family = 0;
  if (length == 4) {
    family = AF_INET;
  } else if (length == 16) {
    family = AF_INET6;
  } else {
    return Error{"san_ip: address of " + std::to_string(length) + " bytes (expected 4 or 16)"};
  }
  if (inet_ntop(family, bytes, text, sizeof(text)) == nullptr) {
    return Error{"san_ip: cannot format address"};
  }
  return std::string(text);
}

std::optional<Error> ReadSubjectAltNames(X509* cert, CertificateInfo* info) {
  int critical = -1;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  if (!names) {
    if (critical == -1) return std::nullopt;  // no SAN extension at all
    // -2: several SAN extensions, which RFC 5280 forbids and which would let two parsers
    // disagree about which one counts; >= 0: present but undecodable.
    if (critical == -2) return Error{"more than one subjectAltName extension"};
    return Error{"subjectAltName extension cannot be decoded"};
  }
  const int count = sk_GENERAL_NAME_num(names.get());
  if (count > static_cast<int>(CertificateInfo::kMaxSubjectAltNames)) {
    return Error{"too many subjectAltName entries (" + std::to_string(count) + ", at most " +
                 std::to_string(CertificateInfo::kMaxSubjectAltNames) + ")"};
  }
  for (int i = 0; i < count; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_DNS: {
        auto value = ReadIa5(name->d.dNSName, "san_dns");
        if (!value) return value.error();
        info->san_dns.push_back(std::move(value).value());
        break;
      }
      case GEN_URI: {
        auto value = ReadIa5(name->d.uniformResourceIdentifier, "san_uri");
        if (!value) return value.error();
        info->san_uri.push_back(std::move(value).value());
        break;
      }
      case GEN_EMAIL: {
        auto value = ReadIa5(name->d.rfc822Name, "san_email");
        if (!value) return value.error();
        info->san_email.push_back(std::move(value).value());
        break;
      }
      case GEN_IPADD: {
        auto value = ReadIp(name->d.iPAddress);
        if (!value) return value.error();
        info->san_ip.push_back(std::move(value).value());
        break;
      }
      default:
        break;  // otherName, directoryName, ...: no identity source reads them
    }
  }
  return std::nullopt;
}

Result<int64_t> UnixSeconds(const ASN1_TIME* time, const char* field) {
  struct tm tm = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return Error{std::string(field) + ": cannot be read"};
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::string Sha256Hex(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &size) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0F]);
  }
  return out;
}

// ---- RFC 4514 DN strings (EMQX's `dn`) ----

struct ParsedAttribute {
  std::string type;   // as written
  std::string value;  // unescaped bytes
};
using ParsedRdn = std::vector<ParsedAttribute>;

// A byte of a refused DN, for a message: itself when printable ASCII, else \xNN, so that a
// hostile `dn` cannot break a log line in two (or leave half a UTF-8 sequence in it).
std::string PrintableByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7F) return std::string(1, c);
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("\\x") + kHex[byte >> 4] + kHex[byte & 0x0F];
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses `dn` in string order (most specific RDN first). Accepts what RFC 4514 section 3
// allows plus what EMQX (esockd_ssl) emits, which escapes every byte >= 0x7E as \XX.
Result<std::vector<ParsedRdn>> ParseDn(std::string_view dn) {
  std::vector<ParsedRdn> rdns;
  size_t pos = 0;
  const size_t n = dn.size();
  ParsedRdn rdn;
  while (true) {
    ParsedAttribute attribute;
    // attributeType: a keyword or a dotted OID. Spaces around it are tolerated (RFC 2253
    // writers emit "CN=a, O=b"). '_' and '/' are not RFC 4514 but occur in OpenSSL's short names
    // (`ad_timestamping`), which subject_dn is written with: without them a subject_dn would not
    // read back as the subject it came from.
    while (pos < n && dn[pos] == ' ') ++pos;
    const size_t type_start = pos;
    while (pos < n && (std::isalnum(static_cast<unsigned char>(dn[pos])) || dn[pos] == '-' ||
                       dn[pos] == '.' || dn[pos] == '_' || dn[pos] == '/')) {
      ++pos;
    }
    attribute.type = std::string(dn.substr(type_start, pos - type_start));
    while (pos < n && dn[pos] == ' ') ++pos;
    if (attribute.type.empty()) {
      return Error{"dn: expected an attribute type at offset " + std::to_string(pos)};
    }
    if (pos >= n || dn[pos] != '=') {
      return Error{"dn: expected '=' after attribute type '" + attribute.type + "'"};
    }
    ++pos;
    if (pos < n && dn[pos] == '#') {
      return Error{"dn: " + attribute.type + ": BER-encoded (#hex) values are not supported"};
    }
    while (pos < n && dn[pos] != ',' && dn[pos] != '+') {
      const char c = dn[pos];
      if (c == '\\') {
        if (pos + 1 >= n) return Error{"dn: " + attribute.type + ": '\\' at end of value"};
        const int hi = HexDigit(dn[pos + 1]);
        const int lo = pos + 2 < n ? HexDigit(dn[pos + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
          attribute.value.push_back(static_cast<char>(hi * 16 + lo));
          pos += 3;
          continue;
        }
        if (std::strchr("\"+,;<>\\ #=", dn[pos + 1]) == nullptr || dn[pos + 1] == '\0') {
          return Error{"dn: " + attribute.type + ": invalid escape '\\" +
                       PrintableByte(dn[pos + 1]) + "'"};
        }
        attribute.value.push_back(dn[pos + 1]);
        pos += 2;
        continue;
      }
      if (c == '"' || c == ';' || c == '<' || c == '>') {
        return Error{"dn: " + attribute.type + ": unescaped '" + std::string(1, c) + "'"};
      }
      attribute.value.push_back(c);
      ++pos;
    }
    rdn.push_back(std::move(attribute));
    if (pos >= n) break;
    const char separator = dn[pos++];
    if (separator == ',') {
      rdns.push_back(std::move(rdn));
      rdn.clear();
    }
  }
  rdns.push_back(std::move(rdn));
  return rdns;
}

// RFC 4514 keywords and EMQX's spellings (esockd_ssl: SN, GIVENNAME, TITLE, SERIALNUMBER,
// EMAILADDRESS, ...), matched case-insensitively, mapped to OpenSSL short names so that both
// construction paths of CertificateInfo name attributes identically.
struct TypeAlias {
  const char* keyword;
  const char* openssl;
};
constexpr TypeAlias kTypeAliases[] = {
    {"CN", "CN"},
    {"COMMONNAME", "CN"},
    {"L", "L"},
    {"LOCALITYNAME", "L"},
    {"ST", "ST"},
    {"S", "ST"},
    {"STATEORPROVINCENAME", "ST"},
    {"O", "O"},
    {"ORGANIZATIONNAME", "O"},
    {"OU", "OU"},
    {"ORGANIZATIONALUNITNAME", "OU"},
    {"C", "C"},
    {"COUNTRYNAME", "C"},
    {"STREET", "street"},
    {"STREETADDRESS", "street"},
    {"DC", "DC"},
    {"DOMAINCOMPONENT", "DC"},
    {"UID", "UID"},
    {"USERID", "UID"},
    {"SN", "SN"},
    {"SURNAME", "SN"},
    {"GN", "GN"},
    {"GIVENNAME", "GN"},
    {"INITIALS", "initials"},
    {"GENERATIONQUALIFIER", "generationQualifier"},
    {"TITLE", "title"},
    {"SERIALNUMBER", "serialNumber"},
    {"PSEUDONYM", "pseudonym"},
    {"EMAILADDRESS", "emailAddress"},
    {"EMAIL", "emailAddress"},
    {"E", "emailAddress"},
    {"DNQUALIFIER", "dnQualifier"},
    {"POSTALCODE", "postalCode"},
};

Result<ObjectPtr> AttributeObject(const std::string& type) {
  // OpenSSL's own short names first, case-sensitively, since subject_dn is written with them:
  // uniqueIdentifier prints as "uid", which the case-insensitive keyword "UID" (userId) would
  // turn into another attribute, giving a certificate a different subject on EMQX.
  if (OBJ_sn2nid(type.c_str()) != NID_undef) return ObjectPtr(OBJ_txt2obj(type.c_str(), 0));
  for (const auto& alias : kTypeAliases) {
    if (strcasecmp(alias.keyword, type.c_str()) == 0) {
      return ObjectPtr(OBJ_txt2obj(alias.openssl, 0));
    }
  }
  const bool numeric = std::isdigit(static_cast<unsigned char>(type[0])) != 0;
  // Numeric OIDs as such (EMQX prints unknown types that way); other names only if OpenSSL
  // knows them exactly (e.g. "organizationalUnitName").
  ObjectPtr object(OBJ_txt2obj(type.c_str(), numeric ? 1 : 0));
  ERR_clear_error();
  if (!object || (!numeric && OBJ_obj2nid(object.get()) == NID_undef)) {
    return Error{"dn: unknown attribute type '" + type + "'"};
  }
  return object;
}

Result<NamePtr> BuildName(const std::vector<ParsedRdn>& rdns) {
  NamePtr name(X509_NAME_new());
  if (!name) return Error{"out of memory"};
  // The string lists the most specific RDN first; the certificate (and X509_NAME) the reverse.
  for (auto rdn = rdns.rbegin(); rdn != rdns.rend(); ++rdn) {
    bool first_in_rdn = true;
    for (const ParsedAttribute& attribute : *rdn) {
      auto object = AttributeObject(attribute.type);
      if (!object) return object.error();
      if (auto error = CheckText(attribute.value, "subject " + attribute.type)) return *error;
      const auto* bytes = reinterpret_cast<const unsigned char*>(attribute.value.data());
      const int length = static_cast<int>(attribute.value.size());
      // set 0 opens a new RDN; -1 adds to the RDN just appended (multi-valued RDN).
      const int set = first_in_rdn ? 0 : -1;
      if (X509_NAME_add_entry_by_OBJ(name.get(), object.value().get(), MBSTRING_UTF8, bytes, length,
                                     -1, set) != 1) {
        // Attribute size/charset rules (a 3-letter C, a 65-character CN) are the CA's business;
        // the value is kept as a UTF8String so it still compares and prints as sent.
        ERR_clear_error();
        if (X509_NAME_add_entry_by_OBJ(name.get(), object.value().get(), V_ASN1_UTF8STRING, bytes,
                                       length, -1, set) != 1) {
          return Error{"dn: cannot represent attribute " + attribute.type};
        }
      }
      first_in_rdn = false;
    }
  }
  // A certificate's multi-valued RDN (`UID=y+CN=x`) holds its members in DER order (a SET OF is
  // sorted by encoding), which is the order FromX509 reads; a string may list them in any order
  // (OpenSSL prints them reversed). Encoding and decoding the name puts them in the
  // certificate's order, so that both paths agree on the subject and on subject_dn.
  unsigned char* der = nullptr;
  const int length = i2d_X509_NAME(name.get(), &der);
  if (length <= 0) return Error{"dn: cannot encode the subject"};
  const unsigned char* cursor = der;
  NamePtr canonical(d2i_X509_NAME(nullptr, &cursor, length));
  OPENSSL_free(der);
  if (!canonical) return Error{"dn: cannot encode the subject"};
  return canonical;
}

std::string JoinCommas(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += values[i];
  }
  return out;
}

}  // namespace

Result<CertificateInfo> CertificateInfo::FromX509(X509* cert) {
  ClearErrorsOnExit clear_errors;
  if (cert == nullptr) return Error{"no certificate"};
  CertificateInfo info;
  X509_up_ref(cert);
  info.x509 = X509Ptr(cert, X509Deleter());
  info.has_full_certificate = true;

  auto subject = ReadSubject(X509_get_subject_name(cert));
  if (!subject) return subject.error();
  info.subject = std::move(subject).value();
  info.common_names = CommonNamesOf(info.subject);
  info.subject_dn = NameToRfc2253(X509_get_subject_name(cert));
  info.issuer_dn = NameToRfc2253(X509_get_issuer_name(cert));

  if (auto error = ReadSubjectAltNames(cert, &info)) return *error;

  info.serial_hex = Asn1IntegerToHex(X509_get0_serialNumber(cert));
  info.sha256_hex = Sha256Hex(cert);
  if (info.sha256_hex.empty()) return Error{"cannot compute the certificate's SHA-256"};

  auto not_before = UnixSeconds(X509_get0_notBefore(cert), "notBefore");
  if (!not_before) return not_before.error();
  auto not_after = UnixSeconds(X509_get0_notAfter(cert), "notAfter");
  if (!not_after) return not_after.error();
  info.not_before = *not_before;
  info.not_after = *not_after;
  return info;
}

Result<CertificateInfo> CertificateInfo::FromDer(std::string_view der) {
  ClearErrorsOnExit clear_errors;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  std::unique_ptr<X509, X509Deleter> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return Error{"not a DER certificate"};
  if (p != end) return Error{"trailing data after the DER certificate"};
  return FromX509(cert.get());
}

Result<CertificateInfo> CertificateInfo::FromPem(std::string_view pem) {
  ClearErrorsOnExit clear_errors;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Error{"out of memory"};
  std::unique_ptr<X509, X509Deleter> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Error{"no PEM certificate found"};
  return FromX509(cert.get());
}

Result<CertificateInfo> CertificateInfo::FromSubjectStrings(std::string_view cn,
                                                            std::string_view dn) {
  ClearErrorsOnExit clear_errors;
  if (dn.empty()) {
    if (cn.empty()) return Error{"no certificate"};
    return Error{"cn given without dn"};
  }
  if (dn.find('\0') != std::string_view::npos) return Error{"dn: embedded NUL character"};
  auto rdns = ParseDn(dn);
  if (!rdns) return rdns.error();
  auto name = BuildName(*rdns);
  if (!name) return name.error();

  CertificateInfo info;
  info.has_full_certificate = false;
  // Read back through the same code as FromX509, so attribute names, values and subject_dn
  // are byte-identical to what Mosquitto's side computes from the certificate itself.
  auto subject = ReadSubject(name.value().get());
  if (!subject) return subject.error();
  info.subject = std::move(subject).value();
  info.common_names = CommonNamesOf(info.subject);
  info.subject_dn = NameToRfc2253(name.value().get());
  if (cn != JoinCommas(info.common_names)) return Error{"cn does not agree with dn"};
  return info;
}

std::vector<std::string_view> CertificateInfo::Values(IdentitySource source) const {
  auto all = [](const std::vector<std::string>& values) {
    return std::vector<std::string_view>(values.begin(), values.end());
  };
  switch (source) {
    case IdentitySource::kCn:
      return all(common_names);
    case IdentitySource::kSanDns:
      return all(san_dns);
    case IdentitySource::kSanUri:
      return all(san_uri);
    case IdentitySource::kSanEmail:
      return all(san_email);
    case IdentitySource::kSanIp:
      return all(san_ip);
    case IdentitySource::kSubject:
      if (subject_dn.empty()) return {};
      return {subject_dn};
    case IdentitySource::kFingerprint:
      if (sha256_hex.empty()) return {};
      return {sha256_hex};
  }
  return {};
}

bool CertificateInfo::IsSignedByOneOf(const std::vector<X509Ptr>& issuers) const {
  if (!has_full_certificate || !x509) return false;
  ClearErrorsOnExit clear_errors;
  const X509_NAME* issuer_name = X509_get_issuer_name(x509.get());
  for (const X509Ptr& issuer : issuers) {
    if (!issuer) continue;
    if (X509_NAME_cmp(X509_get_subject_name(issuer.get()), issuer_name) != 0) continue;
    EVP_PKEY* key = X509_get0_pubkey(issuer.get());
    // Several CAs may share a name (key rollover): try each rather than the first found.
    if (key != nullptr && X509_verify(x509.get(), key) == 1) return true;
  }
  return false;
}

Result<std::vector<X509Ptr>> LoadCertificateBundle(const std::string& path) {
  ClearErrorsOnExit clear_errors;
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Error{path + ": cannot read (" + std::strerror(errno) + ")"};
  std::vector<X509Ptr> bundle;
  while (true) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) {
      const unsigned long error = ERR_peek_last_error();
      // "no start line" is how the PEM reader says the text holds no further certificate.
      if (error == 0 ||
          (ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE)) {
        break;
      }
      return Error{path + ": certificate #" + std::to_string(bundle.size() + 1) +
                   " cannot be parsed"};
    }
    bundle.push_back(X509Ptr(cert, X509Deleter()));
  }
  if (bundle.empty()) return Error{path + ": no certificate found"};
  return bundle;
}

}  // namespace certguard
