#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// Real certificates for tests, made with OpenSSL's C API at test time (EC P-256 keys, SHA-256).
namespace certguard::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `contents` to path()/name (creating parent folders) and returns the full path.
  std::string Write(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

struct LeafSpec {
  // Subject attributes in certificate order, e.g. {{"O", "Example"}, {"CN", "sensor-1"}}.
  // Values are raw bytes (may contain NUL); they are added as UTF8String.
  std::vector<std::pair<std::string, std::string>> subject;
  std::vector<std::string> san_dns;
  std::vector<std::string> san_uri;
  std::vector<std::string> san_email;
  std::vector<std::string> san_ip;  // textual IPv4/IPv6
  int64_t not_before_offset_seconds = -3600;      // relative to now
  int64_t not_after_offset_seconds = 30 * 86400;  // relative to now
  uint64_t serial = 0;                            // 0: the CA picks the next unused serial
};

// Convenience: a spec with just CN=cn.
LeafSpec WithCn(const std::string& cn);

struct IssuedCertificate {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8 PEM, unencrypted
  std::string cert_der;
  std::string serial_hex;  // uppercase, no leading zeros
  std::string sha256_hex;  // lowercase
  std::shared_ptr<X509> x509;
};

// A self-signed CA that issues leaf certificates and CRLs.
class TestCa {
 public:
  explicit TestCa(const std::string& common_name = "certguard test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return cert_pem_; }
  const std::string& key_pem() const { return key_pem_; }
  X509* x509() const { return cert_.get(); }

  IssuedCertificate Issue(const LeafSpec& spec);
  // A server certificate for a broker on loopback (CN=localhost, SAN DNS:localhost, IP:127.0.0.1).
  IssuedCertificate IssueServer();

  // A CRL listing `revoked_serials` (hex, as in IssuedCertificate::serial_hex), with
  // lastUpdate = now + last_update_offset and nextUpdate = now + next_update_offset.
  std::string CrlPem(const std::vector<std::string>& revoked_serials,
                     int64_t next_update_offset_seconds = 86400,
                     int64_t last_update_offset_seconds = -60) const;
  std::string CrlDer(const std::vector<std::string>& revoked_serials,
                     int64_t next_update_offset_seconds = 86400,
                     int64_t last_update_offset_seconds = -60) const;

 private:
  std::shared_ptr<X509> cert_;
  std::shared_ptr<EVP_PKEY> key_;
  std::string cert_pem_;
  std::string key_pem_;
  uint64_t next_serial_ = 0x1000;
};

}  // namespace certguard::testing
