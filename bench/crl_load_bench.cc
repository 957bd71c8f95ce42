// Loading a CRL of 1,000,000 revoked serials (what a large fleet's CA publishes after years), and
// checking a certificate against it. The baseline, timed in the same run, is OpenSSL's own parse
// of the same DER: certguard's load = that parse + signature check + index, so the ratio says
// what the index costs on top of work that cannot be avoided.
#include <malloc.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/revocation_list.h"
#include "shared/x509_name.h"
#include "tests/support/test_pki.h"

namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Blocks in use, the large ones malloc maps on their own included.
size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  certguard::testing::TestCa ca("bench CA");
  certguard::testing::TempDir dir;
  std::vector<std::string> serials;
  serials.reserve(static_cast<size_t>(count));
  char buffer[48];
  for (int i = 0; i < count; ++i) {
    std::snprintf(buffer, sizeof buffer, "5A%030X", i + 1);  // 16-byte serials, as CAs use
    serials.emplace_back(buffer);
  }
  const std::string der = ca.CrlDer(serials);
  const std::string path = dir.Write("fleet.crl", der);
  certguard::X509Ptr ca_cert(X509_dup(ca.x509()), X509_free);

  std::vector<double> parse_ms, load_ms, free_ms;
  size_t held_bytes = 0;
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
    parse_ms.push_back(MillisecondsSince(start));
    if (crl == nullptr) return 1;
    X509_CRL_free(crl);

    const size_t heap_before = HeapInUse();
    start = Clock::now();
    auto set = std::make_unique<certguard::Result<certguard::CrlSet>>(
        certguard::CrlSet::Load({path}, {"fleet.crl"}, {ca_cert}));
    load_ms.push_back(MillisecondsSince(start));
    if (!set->ok()) {
      std::fprintf(stderr, "%s\n", set->error().message.c_str());
      return 1;
    }
    // What a policy snapshot holds for this CRL, and what the reaper's thread frees with it.
    held_bytes = HeapInUse() - heap_before;
    if (round == 2) {
      certguard::CertificateInfo probe;
      probe.has_full_certificate = true;
      probe.issuer_dn = certguard::NameToRfc2253(X509_get_subject_name(ca.x509()));
      probe.not_after = INT64_MAX;
      constexpr int kChecks = 1'000'000;
      int revoked = 0;
      start = Clock::now();
      for (int i = 0; i < kChecks; ++i) {
        probe.serial_hex = serials[static_cast<size_t>(i) % serials.size()];
        revoked +=
            (*set)->Check(probe, std::time(nullptr), certguard::StaleCrlMode::kDeny).revoked();
      }
      const double ns = MillisecondsSince(start) * 1e6 / kChecks;
      std::printf("check against the %d-serial CRL: %.0f ns per certificate (%d/%d revoked)\n",
                  count, ns, revoked, kChecks);
      if (revoked != kChecks) return 1;
    }
    start = Clock::now();
    set.reset();
    free_ms.push_back(MillisecondsSince(start));
  }
  std::sort(parse_ms.begin(), parse_ms.end());
  std::sort(load_ms.begin(), load_ms.end());
  std::sort(free_ms.begin(), free_ms.end());
  std::printf("CRL with %d serials, %zu bytes DER (median of 3):\n", count, der.size());
  std::printf("  OpenSSL parse alone (baseline): %8.0f ms\n", parse_ms[1]);
  std::printf("  certguard CrlSet::Load:         %8.0f ms  (%.2fx the parse)\n", load_ms[1],
              load_ms[1] / parse_ms[1]);
  std::printf("  held once loaded: %.1f MB of heap (%.0f bytes a serial); freed in %.1f ms\n",
              static_cast<double>(held_bytes) / 1e6, static_cast<double>(held_bytes) / count,
              free_ms[1]);
  return 0;
}
