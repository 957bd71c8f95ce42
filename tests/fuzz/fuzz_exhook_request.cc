// The EMQX exhook's request handling: serialized ClientAuthenticateRequest/ClientAuthorizeRequest
// messages (v2 and v3, as gRPC hands them over) or plain ClientInfo fields, through
// ExhookAuthorizer in both peer-cert modes, with an audit log. Whatever EMQX (or whoever reaches
// the port) sends: no crash, leak or sanitizer report; no log line that a client can split in
// two; a client that may publish or subscribe is one that may connect; a repeated request (now
// answered from the cache) gets the same answer.
//
// Input: one selector byte, then the message. Selector bits 0-1: 0 v3 authenticate, 1 v3
// authorize, 2 v2 authorize, 3 plain fields "clientid\nusername\ncn\ndn\ntopic"; bit 2: pem mode
// (username is the base64 DER certificate); bit 3: the SAN policy instead of the CN one; bit 4:
// subscribe rather than publish (plain fields).
//
// CERTGUARD_FUZZ_WRITE_SEEDS=DIR writes the seed corpus to DIR and exits
// (tests/fuzz/make_seeds.sh).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "emqx-exhook/exhook_authorizer.h"
#include "emqx-exhook/hook_provider.h"
#include "emqx/exhook/v2/exhook.pb.h"
#include "emqx/exhook/v3/exhook.pb.h"
#include "shared/audit_log.h"
#include "shared/policy_store.h"
#include "tests/support/test_pki.h"

namespace {

using certguard::Action;
using certguard::Reason;
using certguard::exhook::ClientFacts;
using certguard::exhook::ExhookAuthorizer;
using certguard::exhook::PeerCertMode;

// Within the seed certificates' validity (tests/fuzz/make_seeds.sh: 100 years from 2026).
constexpr int64_t kNow = 2000000000;  // 2033-05-18

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Identity from the CN: what EMQX gives without pem mode.
constexpr char kCnPolicy[] = R"(version: 1
identity:
  from: [{cn: "{id}"}]
groups:
  sensors: { id: "sensor-*" }
  example: { subject: { O: "Example" } }
rules:
  - for: sensors
    allow:
      publish: ["sensors/{id}/telemetry"]
      subscribe: ["devices/{id}/commands/#"]
  - for: example
    allow: { publish: ["org/{cn}/#"], subscribe: ["org/+/status"] }
  - for: all
    allow: { publish: ["clients/{client_id}/up"], subscribe: ["broadcast/#"] }
    deny: { publish: ["$SYS/#"], subscribe: ["broadcast/secret/#"] }
revocation:
  denylist: "cn-revoked.txt"
)";

// Needs the full certificate (SAN, serial denylist): pem mode only.
constexpr char kSanPolicy[] = R"(version: 1
identity:
  from:
    - san_dns: "{id}.devices.example.com"
    - san_uri: "spiffe://iot.example.com/device/{id}"
    - cn: "{id}"
  client_id: any
rules:
  - for: all
    allow:
      publish: ["devices/{id}/#"]
      subscribe: ["devices/{id}/commands/+", "fleet/#"]
    deny: { subscribe: ["fleet/+/private"] }
revocation:
  denylist: "san-revoked.txt"
)";

struct Fixture {
  certguard::testing::TempDir dir;
  std::unique_ptr<certguard::PolicyStore> stores[2];
  std::unique_ptr<certguard::AuditLog> audit;

  Fixture() {
    dir.Write("cn-revoked.txt", "id:sensor-666\n");
    dir.Write("san-revoked.txt", "serial:DEADBEEF\nid:dev-13\n");
    const char* texts[2] = {kCnPolicy, kSanPolicy};
    for (int i = 0; i < 2; ++i) {
      auto store =
          certguard::PolicyStore::Open(dir.Write(i == 0 ? "cn.yaml" : "san.yaml", texts[i]));
      if (!store.ok()) {
        std::fprintf(stderr, "fuzz policy: %s\n", store.error().message.c_str());
        std::abort();
      }
      stores[i] = std::move(store).value();
    }
    // Every denial is formatted as a JSON line; /dev/null keeps a long run from filling a disk.
    auto log = certguard::AuditLog::Open("/dev/null");
    Check(log.ok());
    audit = std::move(log).value();
  }
};

Fixture& TheFixture() {
  static Fixture* fixture = new Fixture();  // never destroyed: a fuzzer exits from anywhere
  return *fixture;
}

struct Request {
  ClientFacts facts;
  bool authorize = false;
  Action action = Action::kPublish;
  std::string_view topic;
};

void Decide(const Request& r, PeerCertMode mode, const certguard::PolicyStore& store) {
  // A fresh authorizer per input, so that no cache entry from an earlier input decides.
  ExhookAuthorizer authorizer(
      store, mode, TheFixture().audit.get(),
      [](std::string_view line) { Check(line.find_first_of("\r\n") == std::string_view::npos); },
      /*cache_capacity=*/4);
  const auto connect = authorizer.Authenticate(r.facts, kNow);
  Check(!connect.allowed() || connect.decision.reason == Reason::kConnectAllowed);
  if (!r.authorize) {
    Check(authorizer.Authenticate(r.facts, kNow).allowed() == connect.allowed());
    return;
  }
  const auto first = authorizer.Authorize(r.facts, r.action, r.topic, kNow);
  if (first.allowed()) {
    Check(connect.allowed());
    Check(first.decision.reason == Reason::kAllowedByRule && first.decision.rule != nullptr);
  }
  Check(authorizer.Authorize(r.facts, r.action, r.topic, kNow).allowed() == first.allowed());
  (void)authorizer.WhyEveryClientIsRefused(*store.current());
}

template <typename Message>
bool Parse(Message* message, std::string_view bytes) {
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

template <typename AuthorizeRequest>
void DecideAuthorize(const AuthorizeRequest& request, PeerCertMode mode,
                     const certguard::PolicyStore& store) {
  // As hook_provider.h: only PUBLISH and SUBSCRIBE are decided.
  const int type = request.type();
  if (type != AuthorizeRequest::PUBLISH && type != AuthorizeRequest::SUBSCRIBE) return;
  Decide(
      {certguard::exhook::FactsOf(request.clientinfo()), true,
       type == AuthorizeRequest::PUBLISH ? Action::kPublish : Action::kSubscribe, request.topic()},
      mode, store);
}

// ---- Seeds ----------------------------------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Base64(std::string_view bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 2]);
    out += kDigits[(chunk >> 18) & 63];
    out += kDigits[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kDigits[chunk & 63] : '=';
  }
  return out;
}

void WriteSeeds(const std::string& dir, const std::string& certificates) {
  const std::string sans = Base64(ReadFile(certificates + "/sans.der"));
  const std::string sensor = Base64(ReadFile(certificates + "/cn.der"));
  Check(!sans.empty() && !sensor.empty());
  struct Seed {
    const char* name;
    uint8_t selector;
    const char* client_id;
    std::string username;
    const char* cn;
    const char* dn;
    int type;  // -1: authenticate
    const char* topic;
  };
  const Seed seeds[] = {
      {"v3_connect_cn", 0, "sensor-1", "", "sensor-1", "CN=sensor-1", -1, ""},
      {"v3_publish_cn", 1, "sensor-1", "", "sensor-1", "CN=sensor-1", 0,
       "sensors/sensor-1/telemetry"},
      {"v3_subscribe_cn", 1, "sensor-1", "", "sensor-1", "CN=sensor-1", 1,
       "devices/sensor-1/commands/#"},
      {"v2_subscribe_share", 2, "dev-1", "", "dev-1", "CN=dev-1,OU=sensors,O=Example", 1,
       "$share/g/org/+/status"},
      {"v3_connect_pem", 4 | 8, "anything", sans, "dev-1", "CN=dev-1,OU=sensors,O=Example", -1, ""},
      {"v3_publish_pem", 1 | 4 | 8, "dev-1", sans, "dev-1", "CN=dev-1,OU=sensors,O=Example", 0,
       "devices/dev-1/status"},
      {"v2_subscribe_pem_deny", 2 | 4 | 8, "dev-1", sans, "dev-1", "CN=dev-1,OU=sensors,O=Example",
       1, "fleet/+/private"},
      {"v3_pem_other_cert", 1 | 4, "sensor-1", sans, "sensor-1", "CN=sensor-1", 0,
       "sensors/sensor-1/telemetry"},
      {"v3_pem_cn_policy", 1 | 4, "sensor-1", sensor, "sensor-1", "CN=sensor-1", 0,
       "sensors/sensor-1/telemetry"},
      {"v3_connect_dn_line_break", 0, "a", "", "a", "CN=a\\\nforged line", -1, ""},
      {"v3_revoked", 1, "sensor-666", "", "sensor-666", "CN=sensor-666", 0,
       "sensors/sensor-666/telemetry"},
  };
  for (const Seed& s : seeds) {
    std::string bytes(1, static_cast<char>(s.selector));
    const auto fill = [&](auto* info) {
      info->set_node("emqx@127.0.0.1");
      info->set_clientid(s.client_id);
      info->set_username(s.username);
      info->set_peerhost("192.0.2.7");
      info->set_protocol("mqtt");
      info->set_cn(s.cn);
      info->set_dn(s.dn);
    };
    if (s.type < 0) {
      emqx::exhook::v3::ClientAuthenticateRequest request;
      fill(request.mutable_clientinfo());
      bytes += request.SerializeAsString();
    } else if ((s.selector & 3) == 1) {
      emqx::exhook::v3::ClientAuthorizeRequest request;
      fill(request.mutable_clientinfo());
      request.set_type(
          static_cast<emqx::exhook::v3::ClientAuthorizeRequest::AuthorizeReqType>(s.type));
      request.set_topic(s.topic);
      bytes += request.SerializeAsString();
    } else {
      emqx::exhook::v2::ClientAuthorizeRequest request;
      fill(request.mutable_clientinfo());
      request.set_type(
          static_cast<emqx::exhook::v2::ClientAuthorizeRequest::AuthorizeReqType>(s.type));
      request.set_topic(s.topic);
      bytes += request.SerializeAsString();
    }
    std::ofstream(dir + "/" + s.name, std::ios::binary) << bytes;
  }
  std::ofstream(dir + "/plain_subscribe", std::ios::binary)
      << std::string(1, static_cast<char>(3 | 16))
      << "sensor-1\n\nsensor-1\nO=Example,CN=sensor-1\ndevices/sensor-1/commands/+";
  std::ofstream(dir + "/plain_pem_publish", std::ios::binary)
      << std::string(1, static_cast<char>(3 | 4 | 8)) << "dev-1\n"
      << sans << "\ndev-1\nCN=dev-1,OU=sensors,O=Example\ndevices/dev-1/x";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Mutated messages are often not UTF-8 where proto3 wants it; protobuf would log each one.
  google::protobuf::SetLogHandler(nullptr);
  if (const char* dir = std::getenv("CERTGUARD_FUZZ_WRITE_SEEDS")) {
    const char* certificates = std::getenv("CERTGUARD_FUZZ_CERTIFICATES");
    WriteSeeds(dir, certificates != nullptr ? certificates : "tests/fuzz/corpus/certificate_der");
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 32 * 1024) return -1;
  const uint8_t selector = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const PeerCertMode mode = (selector & 4) != 0 ? PeerCertMode::kPem : PeerCertMode::kNone;
  const certguard::PolicyStore& store = *TheFixture().stores[(selector & 8) != 0 ? 1 : 0];

  switch (selector & 3) {
    case 0: {
      emqx::exhook::v3::ClientAuthenticateRequest request;
      if (Parse(&request, bytes))
        Decide({certguard::exhook::FactsOf(request.clientinfo()), false, Action::kConnect, {}},
               mode, store);
      break;
    }
    case 1: {
      emqx::exhook::v3::ClientAuthorizeRequest request;
      if (Parse(&request, bytes)) DecideAuthorize(request, mode, store);
      break;
    }
    case 2: {
      emqx::exhook::v2::ClientAuthorizeRequest request;
      if (Parse(&request, bytes)) DecideAuthorize(request, mode, store);
      break;
    }
    default: {
      std::string_view fields[5];
      std::string_view rest = bytes;
      for (int i = 0; i < 4; ++i) {
        const size_t newline = rest.find('\n');
        if (newline == std::string_view::npos) return 0;
        fields[i] = rest.substr(0, newline);
        rest.remove_prefix(newline + 1);
      }
      fields[4] = rest;
      Decide({{fields[0], fields[1], fields[2], fields[3], "192.0.2.7"},
              true,
              (selector & 16) != 0 ? Action::kSubscribe : Action::kPublish,
              fields[4]},
             mode, store);
      break;
    }
  }
  return 0;
}
