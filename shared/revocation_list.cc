#include "shared/revocation_list.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_set>

#include "shared/x509_name.h"

namespace certguard {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct CrlDeleter {
  void operator()(X509_CRL* crl) const { X509_CRL_free(crl); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlDeleter>;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// Reads a whole file. On failure `error` gets "DISPLAY: cannot read: <strerror>" (a directory
// gives "Is a directory" here rather than a misleading parse error later).
bool ReadFile(const std::string& path, const std::string& display, std::string* contents,
              Error* error) {
  const auto fail = [&](int saved) {
    *error = Error{display + ": cannot read: " + std::strerror(saved)};
    return false;
  };
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return fail(errno != 0 ? errno : ENOENT);
  std::string data;
  char buffer[1 << 16];
  while (true) {
    const size_t got = std::fread(buffer, 1, sizeof buffer, file.get());
    data.append(buffer, got);
    if (got < sizeof buffer) break;
  }
  if (std::ferror(file.get())) return fail(errno != 0 ? errno : EIO);
  *contents = std::move(data);
  return true;
}

// The reason of the most recent OpenSSL error, for messages; clears the queue so that a later
// failure does not report a stale reason.
std::string TakeOpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

bool LooksLikePem(std::string_view contents) {
  const size_t first = contents.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && contents.substr(first).starts_with("-----BEGIN");
}

Result<std::vector<CrlPtr>> ParseCrls(const std::string& contents, const std::string& display) {
  ERR_clear_error();
  if (contents.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Error{display + ": file too large"};
  }
  std::vector<CrlPtr> crls;
  if (LooksLikePem(contents)) {
    BioPtr bio(BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
    if (!bio) return Error{display + ": out of memory"};
    // PEM_read_bio_X509_CRL skips blocks of other types (a CA certificate in the same bundle,
    // say) and stops with PEM_R_NO_START_LINE at the end; any other failure is a broken CRL.
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      crls.emplace_back(crl);
    }
    const unsigned long code = ERR_peek_last_error();
    const bool clean_end = code == 0 || (ERR_GET_LIB(code) == ERR_LIB_PEM &&
                                         ERR_GET_REASON(code) == PEM_R_NO_START_LINE);
    if (!clean_end) {
      return Error{display + ": invalid PEM CRL #" + std::to_string(crls.size() + 1) + ": " +
                   TakeOpenSslReason()};
    }
    ERR_clear_error();
    if (crls.empty()) return Error{display + ": no X509 CRL found in PEM file"};
    return crls;
  }
  const auto* begin = reinterpret_cast<const unsigned char*>(contents.data());
  const unsigned char* cursor = begin;
  CrlPtr crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(contents.size())));
  if (!crl) {
    return Error{display + ": not a CRL (neither PEM nor DER): " + TakeOpenSslReason()};
  }
  // A DER file holds exactly one CRL; anything after it means a corrupted or concatenated file
  // whose extra entries would otherwise be silently ignored.
  if (cursor != begin + contents.size()) {
    return Error{display + ": unexpected data after the DER CRL"};
  }
  crls.push_back(std::move(crl));
  return crls;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil):
// timegm is not in C++ and mktime depends on the local zone.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> Asn1TimeToUnix(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return std::nullopt;
  const int64_t days =
      DaysFromCivil(int64_t{tm.tm_year} + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                    static_cast<unsigned>(tm.tm_mday));
  return days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

std::string FormatUnixTime(int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(seconds);
  char buffer[32];
  if (std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(seconds);
  }
  return buffer;
}

bool IsSignedByOneOf(X509_CRL* crl, const std::vector<X509Ptr>& cas) {
  const X509_NAME* issuer = X509_CRL_get_issuer(crl);
  for (const X509Ptr& ca : cas) {
    if (!ca || X509_NAME_cmp(X509_get_subject_name(ca.get()), issuer) != 0) continue;
    // get0: the key stays owned by the certificate.
    EVP_PKEY* key = X509_get0_pubkey(ca.get());
    // Several CAs may share a subject (key rollover): any one that verifies is enough.
    if (key != nullptr && X509_CRL_verify(crl, key) == 1) {
      ERR_clear_error();
      return true;
    }
    ERR_clear_error();
  }
  return false;
}

}  // namespace

CrlSet::CrlSet() = default;
CrlSet::~CrlSet() = default;
CrlSet::CrlSet(const CrlSet&) = default;
CrlSet& CrlSet::operator=(const CrlSet&) = default;
CrlSet::CrlSet(CrlSet&&) noexcept = default;
CrlSet& CrlSet::operator=(CrlSet&&) noexcept = default;

Result<CrlSet> CrlSet::Load(const std::vector<std::string>& paths,
                            const std::vector<std::string>& display_paths,
                            const std::vector<X509Ptr>& cas) {
  CrlSet set;
  std::unordered_set<std::string> sources_seen;  // issuer '\n' display path
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& display = i < display_paths.size() ? display_paths[i] : paths[i];
    std::string contents;
    Error read_error;
    if (!ReadFile(paths[i], display, &contents, &read_error)) return read_error;
    Result<std::vector<CrlPtr>> crls = ParseCrls(contents, display);
    if (!crls.ok()) return crls.error();
    // The raw bytes are no longer needed; a large CRL should not be held twice.
    std::string().swap(contents);

    for (const CrlPtr& crl : crls.value()) {
      const std::string issuer = NameToRfc2253(X509_CRL_get_issuer(crl.get()));
      if (!IsSignedByOneOf(crl.get(), cas)) {
        return Error{display + ": CRL issued by " + issuer + " is not signed by a CA in `ca`"};
      }
      // A delta CRL lists only what changed since its base: read as a full CRL it would quietly
      // forget every revocation in the base. Refuse it rather than decide on half the list.
      if (X509_CRL_get_ext_by_NID(crl.get(), NID_delta_crl, -1) >= 0) {
        return Error{display + ": CRL issued by " + issuer +
                     " is a delta CRL; configure the full CRL instead"};
      }
      int64_t next_update = INT64_MAX;
      if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get())) {
        std::optional<int64_t> parsed = Asn1TimeToUnix(next);
        if (!parsed) {
          return Error{display + ": CRL issued by " + issuer + " has an invalid nextUpdate"};
        }
        next_update = *parsed;
      }

      IssuerCrl& entry = set.by_issuer_[issuer];
      if (sources_seen.insert(issuer + '\n' + display).second) {
        entry.source += entry.source.empty() ? display : ", " + display;
      }
      if (entry.next_update_source.empty() || next_update < entry.next_update) {
        entry.next_update = next_update;
        entry.next_update_source = display;
      }

      STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
      const int count = revoked != nullptr ? sk_X509_REVOKED_num(revoked) : 0;
      std::string serial;
      for (int k = 0; k < count; ++k) {
        const X509_REVOKED* item = sk_X509_REVOKED_value(revoked, k);
        Asn1IntegerToHex(X509_REVOKED_get0_serialNumber(item), &serial);
        // A CA's serials have one length, near enough: the first sizes the whole list, up to
        // the 20 octets RFC 5280 allows (41 hex characters with a sign), so that one odd
        // serial cannot reserve gigabytes.
        if (k == 0) {
          entry.revoked_serials.Reserve(static_cast<size_t>(count),
                                        std::min<size_t>(serial.size(), 41));
        }
        if (!entry.revoked_serials.HasRoomFor(serial)) {
          return Error{display + ": the CRLs issued by " + issuer +
                       " list more serials than certguard can hold"};
        }
        entry.revoked_serials.Insert(serial);
      }
    }
  }
  return set;
}

RevocationStatus CrlSet::Check(const CertificateInfo& cert, int64_t now, StaleCrlMode stale) const {
  using Kind = RevocationStatus::Kind;
  if (by_issuer_.empty()) return {};
  if (!cert.has_full_certificate) {
    return {Kind::kNeedsFullCertificate,
            "CRLs are configured but only the subject is available (no issuer or serial)"};
  }
  const auto it = by_issuer_.find(cert.issuer_dn);
  if (it == by_issuer_.end()) {
    return {Kind::kNoCrlForIssuer, "no CRL for issuer " + cert.issuer_dn};
  }
  const IssuerCrl& crl = it->second;
  std::string warning;
  if (crl.StaleAt(now)) {
    std::string what = "CRL " + crl.next_update_source + " for issuer " + cert.issuer_dn +
                       " is stale: nextUpdate " + FormatUnixTime(crl.next_update) + " has passed";
    if (stale == StaleCrlMode::kDeny) return {Kind::kStaleCrl, std::move(what)};
    warning = std::move(what) + " (stale_crl: warn)";
  }
  if (crl.revoked_serials.contains(cert.serial_hex)) {
    return {Kind::kRevokedByCrl, "serial " + cert.serial_hex + " listed in " + crl.source};
  }
  return {Kind::kGood, std::move(warning)};
}

int64_t CrlSet::EarliestNextUpdate() const {
  int64_t earliest = INT64_MAX;
  for (const auto& [issuer, crl] : by_issuer_) earliest = std::min(earliest, crl.next_update);
  return earliest;
}

const CrlSet::IssuerCrl* CrlSet::FindIssuer(const std::string& issuer_dn) const {
  const auto it = by_issuer_.find(issuer_dn);
  return it == by_issuer_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------------

namespace {

std::string_view Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n\v\f");
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(" \t\r\n\v\f");
  return text.substr(first, last - first + 1);
}

}  // namespace

Result<Denylist> Denylist::Load(const std::string& path, const std::string& display_path) {
  std::string contents;
  Error error;
  if (!ReadFile(path, display_path, &contents, &error)) return error;
  return Parse(contents, display_path);
}

Result<Denylist> Denylist::Parse(std::string_view text, const std::string& display_path) {
  Denylist list;
  list.source_ = display_path;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);

    // Device ids never contain '#' (design.md, Placeholders), so a trailing comment is safe.
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const std::string where = display_path + ":" + std::to_string(line_number) + ": ";

    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Error{where + "expected KIND:VALUE (serial:HEX, sha256:HEX or id:DEVICE-ID), got '" +
                   std::string(line) + "'"};
    }
    const std::string_view kind = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    if (kind != "serial" && kind != "sha256" && kind != "id") {
      return Error{where + "unknown entry kind '" + std::string(kind) +
                   "' (expected serial, sha256 or id)"};
    }
    if (value.empty()) return Error{where + "empty " + std::string(kind) + " value"};

    if (kind == "id") {
      list.ids_.try_emplace(std::string(value), line_number);
    } else if (kind == "serial") {
      std::string serial;
      if (!NormalizeSerialHex(value, &serial)) {
        return Error{where + "serial '" + std::string(value) + "' is not hex"};
      }
      list.serials_.try_emplace(std::move(serial), line_number);
    } else {
      // Unlike a serial, leading zeros are part of a digest: count the digits as written.
      std::string digest;
      digest.reserve(64);
      for (char c : value) {
        if (c == ':') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) {
          return Error{where + "sha256 '" + std::string(value) + "' is not hex"};
        }
        digest.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
      if (digest.size() != 64) {
        return Error{where + "sha256 must be 64 hex digits, got " + std::to_string(digest.size())};
      }
      list.sha256s_.try_emplace(std::move(digest), line_number);
    }
  }
  return list;
}

RevocationStatus Denylist::Check(const CertificateInfo& cert, std::string_view device_id) const {
  using Kind = RevocationStatus::Kind;
  if (!ids_.empty()) {
    const auto it = ids_.find(std::string(device_id));
    if (it != ids_.end()) {
      return {Kind::kDenylistedId, "id " + std::string(device_id) + " listed at " + source_ + ":" +
                                       std::to_string(it->second)};
    }
  }
  if (!has_certificate_entries()) return {};
  if (!cert.has_full_certificate) {
    return {Kind::kNeedsFullCertificate,
            "denylist " + source_ + " has serial/sha256 entries but only the subject is available"};
  }
  if (const auto it = serials_.find(cert.serial_hex); it != serials_.end()) {
    return {Kind::kDenylistedSerial, "serial " + cert.serial_hex + " listed at " + source_ + ":" +
                                         std::to_string(it->second)};
  }
  if (const auto it = sha256s_.find(cert.sha256_hex); it != sha256s_.end()) {
    return {Kind::kDenylistedSha256, "sha256 " + cert.sha256_hex + " listed at " + source_ + ":" +
                                         std::to_string(it->second)};
  }
  return {};
}

size_t Denylist::size() const { return serials_.size() + sha256s_.size() + ids_.size(); }

}  // namespace certguard
