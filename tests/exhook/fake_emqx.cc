#include "tests/exhook/fake_emqx.h"

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <chrono>
#include <mutex>

#include "emqx/exhook/v2/exhook.grpc.pb.h"
#include "emqx/exhook/v3/exhook.grpc.pb.h"

namespace certguard::testing {

std::string VersionName(ExhookVersion version) {
  return version == ExhookVersion::kV2 ? "v2" : "v3";
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(written < 0 ? 0 : static_cast<size_t>(written));
  return out;
}

namespace {

std::string Utf8Value(const X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (length < 0) return "";
  std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return value;
}

// Attribute keywords as EMQX writes them; unknown types as dotted OIDs.
std::string Keyword(const X509_NAME_ENTRY* entry) {
  const ASN1_OBJECT* object = X509_NAME_ENTRY_get_object(entry);
  const int nid = OBJ_obj2nid(object);
  if (nid == NID_pkcs9_emailAddress) return "EMAILADDRESS";
  if (nid == NID_serialNumber) return "SERIALNUMBER";
  if (nid != NID_undef) {
    if (const char* name = OBJ_nid2sn(nid)) return name;
  }
  char oid[128];
  OBJ_obj2txt(oid, sizeof oid, object, 1);
  return oid;
}

// RFC 4514 §2.4 escaping, with bytes outside printable ASCII as \XX hex pairs.
std::string EscapeValue(const std::string& value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                         c == ';' || c == '=' || (i == 0 && (c == '#' || c == ' ')) ||
                         (i + 1 == value.size() && c == ' ');
    if (c < 0x20 || c >= 0x7E) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '\\';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (special) {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::string EmqxCommonNames(X509* certificate) {
  const X509_NAME* name = X509_get_subject_name(certificate);
  std::string joined;
  bool first = true;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)) != NID_commonName) continue;
    if (!first) joined += ",";
    joined += Utf8Value(entry);
    first = false;
  }
  return joined;
}

std::string EmqxDistinguishedName(X509* certificate) {
  const X509_NAME* name = X509_get_subject_name(certificate);
  std::string dn;
  int previous_set = -1;
  for (int i = X509_NAME_entry_count(name) - 1; i >= 0; --i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const int set = X509_NAME_ENTRY_set(entry);
    if (!dn.empty()) dn += set == previous_set ? "+" : ",";
    dn += Keyword(entry) + "=" + EscapeValue(Utf8Value(entry));
    previous_set = set;
  }
  return dn;
}

EmqxClientInfo ClientInfoFor(const IssuedCertificate& certificate, const std::string& client_id,
                             bool peer_cert_as_username_pem) {
  EmqxClientInfo client;
  client.client_id = client_id;
  client.cn = EmqxCommonNames(certificate.x509.get());
  client.dn = EmqxDistinguishedName(certificate.x509.get());
  if (peer_cert_as_username_pem) client.username = Base64(certificate.cert_der);
  return client;
}

// ---- the version-specific half ----

class FakeEmqx::Caller {
 public:
  virtual ~Caller() = default;
  virtual grpc::Status LoadProvider(std::vector<std::string>* hooks) = 0;
  virtual grpc::Status UnloadProvider() = 0;
  virtual grpc::Status ClientConnect(const EmqxClientInfo& client) = 0;
  virtual grpc::Status ClientConnack(const EmqxClientInfo& client, const std::string& code) = 0;
  virtual grpc::Status ClientConnected(const EmqxClientInfo& client) = 0;
  virtual grpc::Status SessionCreated(const EmqxClientInfo& client) = 0;
  virtual grpc::Status Authenticate(const EmqxClientInfo& client, bool* result) = 0;
  virtual grpc::Status Authorize(const EmqxClientInfo& client, int type, const std::string& topic,
                                 bool* result) = 0;
  virtual grpc::Status ClientSubscribe(const EmqxClientInfo& client, const std::string& filter) = 0;
  virtual grpc::Status SessionSubscribed(const EmqxClientInfo& client,
                                         const std::string& filter) = 0;
  virtual grpc::Status ClientDisconnected(const EmqxClientInfo& client) = 0;
  virtual grpc::Status SessionTerminated(const EmqxClientInfo& client) = 0;

  std::string last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }
  void set_last_error(std::string error) {
    std::lock_guard lock(mutex_);
    last_error_ = std::move(error);
  }

 private:
  mutable std::mutex mutex_;
  std::string last_error_;
};

namespace {

#define CERTGUARD_EXHOOK_PACKAGE_TYPES(ns)                         \
  using HookProvider = ns::HookProvider;                           \
  using ProviderLoadedRequest = ns::ProviderLoadedRequest;         \
  using ProviderUnloadedRequest = ns::ProviderUnloadedRequest;     \
  using LoadedResponse = ns::LoadedResponse;                       \
  using ValuedResponse = ns::ValuedResponse;                       \
  using EmptySuccess = ns::EmptySuccess;                           \
  using ClientInfo = ns::ClientInfo;                               \
  using ConnInfo = ns::ConnInfo;                                   \
  using RequestMeta = ns::RequestMeta;                             \
  using ClientConnectRequest = ns::ClientConnectRequest;           \
  using ClientConnackRequest = ns::ClientConnackRequest;           \
  using ClientConnectedRequest = ns::ClientConnectedRequest;       \
  using SessionCreatedRequest = ns::SessionCreatedRequest;         \
  using ClientAuthenticateRequest = ns::ClientAuthenticateRequest; \
  using ClientAuthorizeRequest = ns::ClientAuthorizeRequest;       \
  using ClientSubscribeRequest = ns::ClientSubscribeRequest;       \
  using SessionSubscribedRequest = ns::SessionSubscribedRequest;   \
  using ClientDisconnectedRequest = ns::ClientDisconnectedRequest; \
  using SessionTerminatedRequest = ns::SessionTerminatedRequest;

struct V2 {
  CERTGUARD_EXHOOK_PACKAGE_TYPES(emqx::exhook::v2)
};
struct V3 {
  CERTGUARD_EXHOOK_PACKAGE_TYPES(emqx::exhook::v3)
};
#undef CERTGUARD_EXHOOK_PACKAGE_TYPES

// EMQX's default `request_timeout`, which it uses as the gRPC deadline.
constexpr auto kRequestTimeout = std::chrono::seconds(5);

template <typename P>
class VersionedCaller final : public FakeEmqx::Caller {
 public:
  explicit VersionedCaller(std::shared_ptr<grpc::Channel> channel)
      : stub_(P::HookProvider::NewStub(std::move(channel))) {}

  grpc::Status LoadProvider(std::vector<std::string>* hooks) override {
    typename P::ProviderLoadedRequest request;
    request.mutable_broker()->set_version("5.8.9");
    request.mutable_broker()->set_sysdescr("EMQX");
    request.mutable_broker()->set_uptime(12345);
    request.mutable_broker()->set_datetime("2026-11-24T03:45:00+00:00");
    Meta(request.mutable_meta());
    typename P::LoadedResponse response;
    Context context;
    grpc::Status status = stub_->OnProviderLoaded(&context.value, request, &response);
    for (const auto& hook : response.hooks()) hooks->push_back(hook.name());
    return status;
  }
  grpc::Status UnloadProvider() override {
    typename P::ProviderUnloadedRequest request;
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnProviderUnloaded, request);
  }
  grpc::Status ClientConnect(const EmqxClientInfo& client) override {
    typename P::ClientConnectRequest request;
    FillConnInfo(request.mutable_conninfo(), client);
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnClientConnect, request);
  }
  grpc::Status ClientConnack(const EmqxClientInfo& client, const std::string& code) override {
    typename P::ClientConnackRequest request;
    FillConnInfo(request.mutable_conninfo(), client);
    request.set_result_code(code);
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnClientConnack, request);
  }
  grpc::Status ClientConnected(const EmqxClientInfo& client) override {
    typename P::ClientConnectedRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnClientConnected, request);
  }
  grpc::Status SessionCreated(const EmqxClientInfo& client) override {
    typename P::SessionCreatedRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnSessionCreated, request);
  }
  grpc::Status Authenticate(const EmqxClientInfo& client, bool* result) override {
    typename P::ClientAuthenticateRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    request.set_result(true);  // EMQX's own verdict so far: no authenticator configured
    Meta(request.mutable_meta());
    return Valued(&P::HookProvider::Stub::OnClientAuthenticate, request, result);
  }
  grpc::Status Authorize(const EmqxClientInfo& client, int type, const std::string& topic,
                         bool* result) override {
    typename P::ClientAuthorizeRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    // Raw: an unknown type must reach the server as sent.
    request.set_type(static_cast<typename P::ClientAuthorizeRequest::AuthorizeReqType>(type));
    request.set_topic(topic);
    request.set_result(false);  // authorization.no_match = deny
    Meta(request.mutable_meta());
    return Valued(&P::HookProvider::Stub::OnClientAuthorize, request, result);
  }
  grpc::Status ClientSubscribe(const EmqxClientInfo& client, const std::string& filter) override {
    typename P::ClientSubscribeRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    auto* topic_filter = request.add_topic_filters();
    topic_filter->set_name(filter);
    topic_filter->mutable_subopts()->set_qos(1);
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnClientSubscribe, request);
  }
  grpc::Status SessionSubscribed(const EmqxClientInfo& client, const std::string& filter) override {
    typename P::SessionSubscribedRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    request.set_topic(filter);
    request.mutable_subopts()->set_qos(1);
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnSessionSubscribed, request);
  }
  grpc::Status ClientDisconnected(const EmqxClientInfo& client) override {
    typename P::ClientDisconnectedRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    request.set_reason("normal");
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnClientDisconnected, request);
  }
  grpc::Status SessionTerminated(const EmqxClientInfo& client) override {
    typename P::SessionTerminatedRequest request;
    FillClientInfo(request.mutable_clientinfo(), client);
    request.set_reason("normal");
    Meta(request.mutable_meta());
    return Empty(&P::HookProvider::Stub::OnSessionTerminated, request);
  }

 private:
  struct Context {
    Context() { value.set_deadline(std::chrono::system_clock::now() + kRequestTimeout); }
    grpc::ClientContext value;
  };

  static void Meta(typename P::RequestMeta* meta) {
    meta->set_node("emqx@127.0.0.1");
    meta->set_version("5.8.9");
    meta->set_sysdescr("EMQX");
    meta->set_cluster_name("emqxcl");
  }
  static void FillClientInfo(typename P::ClientInfo* info, const EmqxClientInfo& client) {
    info->set_node(client.node);
    info->set_clientid(client.client_id);
    info->set_username(client.username);
    info->set_peerhost(client.peerhost);
    info->set_sockport(client.sockport);
    info->set_protocol(client.protocol);
    info->set_is_superuser(false);
    info->set_anonymous(client.username.empty());
    info->set_cn(client.cn);
    info->set_dn(client.dn);
    info->set_peerport(client.peerport);
  }
  static void FillConnInfo(typename P::ConnInfo* info, const EmqxClientInfo& client) {
    info->set_node(client.node);
    info->set_clientid(client.client_id);
    info->set_username(client.username);
    info->set_peerhost(client.peerhost);
    info->set_sockport(client.sockport);
    info->set_proto_name("MQTT");
    info->set_proto_ver("5");
    info->set_keepalive(60);
    info->set_peerport(client.peerport);
  }

  template <typename Method, typename Request>
  grpc::Status Empty(Method method, const Request& request) {
    typename P::EmptySuccess response;
    Context context;
    return ((*stub_).*method)(&context.value, request, &response);
  }

  template <typename Method, typename Request>
  grpc::Status Valued(Method method, const Request& request, bool* result) {
    typename P::ValuedResponse response;
    Context context;
    grpc::Status status = ((*stub_).*method)(&context.value, request, &response);
    if (!status.ok()) return status;
    // What EMQX needs to take the answer as final.
    if (response.type() != P::ValuedResponse::STOP_AND_RETURN ||
        response.value_case() != P::ValuedResponse::kBoolResult) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "protocol: answer is not STOP_AND_RETURN with bool_result: " +
                              response.ShortDebugString());
    }
    *result = response.bool_result();
    return status;
  }

  std::unique_ptr<typename P::HookProvider::Stub> stub_;
};

}  // namespace

// ---- FakeEmqx ----

FakeEmqx::FakeEmqx(ExhookVersion version, std::shared_ptr<grpc::Channel> channel) {
  if (version == ExhookVersion::kV2) {
    caller_ = std::make_unique<VersionedCaller<V2>>(std::move(channel));
  } else {
    caller_ = std::make_unique<VersionedCaller<V3>>(std::move(channel));
  }
}

FakeEmqx::~FakeEmqx() = default;

std::shared_ptr<grpc::Channel> FakeEmqx::PlainChannel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

std::string FakeEmqx::last_error() const { return caller_->last_error(); }

namespace {

// Counts the call; false (and the error kept) when it failed.
bool Counted(std::atomic<uint64_t>& calls, std::atomic<uint64_t>& failures,
             FakeEmqx::Caller& caller, const grpc::Status& status) {
  ++calls;
  if (status.ok()) return true;
  ++failures;
  caller.set_last_error(std::to_string(status.error_code()) + ": " + status.error_message());
  return false;
}

}  // namespace

std::optional<std::vector<std::string>> FakeEmqx::LoadProvider() {
  std::vector<std::string> hooks;
  if (!Counted(calls_, failures_, *caller_, caller_->LoadProvider(&hooks))) return std::nullopt;
  return hooks;
}

bool FakeEmqx::UnloadProvider() {
  return Counted(calls_, failures_, *caller_, caller_->UnloadProvider());
}

std::optional<bool> FakeEmqx::Authenticate(const EmqxClientInfo& client) {
  bool result = false;
  if (!Counted(calls_, failures_, *caller_, caller_->Authenticate(client, &result))) {
    return std::nullopt;
  }
  return result;
}

std::optional<bool> FakeEmqx::Connect(const EmqxClientInfo& client) {
  if (!Counted(calls_, failures_, *caller_, caller_->ClientConnect(client))) return std::nullopt;
  const std::optional<bool> admitted = Authenticate(client);
  if (!admitted) return std::nullopt;
  if (*admitted) {
    if (!Counted(calls_, failures_, *caller_, caller_->SessionCreated(client)) ||
        !Counted(calls_, failures_, *caller_, caller_->ClientConnected(client))) {
      return std::nullopt;
    }
  }
  if (!Counted(calls_, failures_, *caller_,
               caller_->ClientConnack(client, *admitted ? "success" : "not_authorized"))) {
    return std::nullopt;
  }
  return admitted;
}

std::optional<bool> FakeEmqx::Authorize(const EmqxClientInfo& client, int type,
                                        const std::string& topic) {
  bool result = false;
  if (!Counted(calls_, failures_, *caller_, caller_->Authorize(client, type, topic, &result))) {
    return std::nullopt;
  }
  return result;
}

std::string EmqxAuthorizedFilter(const std::string& filter) {
  static constexpr std::string_view kShare = "$share/";
  if (filter.rfind(kShare, 0) != 0) return filter;
  const size_t group_end = filter.find('/', kShare.size());
  if (group_end == std::string::npos || group_end + 1 == filter.size()) return filter;
  return filter.substr(group_end + 1);
}

std::optional<bool> FakeEmqx::Subscribe(const EmqxClientInfo& client, const std::string& filter) {
  if (!Counted(calls_, failures_, *caller_, caller_->ClientSubscribe(client, filter))) {
    return std::nullopt;
  }
  const std::optional<bool> allowed =
      Authorize(client, kAuthorizeSubscribe, EmqxAuthorizedFilter(filter));
  if (allowed && *allowed &&
      !Counted(calls_, failures_, *caller_, caller_->SessionSubscribed(client, filter))) {
    return std::nullopt;
  }
  return allowed;
}

bool FakeEmqx::Disconnect(const EmqxClientInfo& client) {
  return Counted(calls_, failures_, *caller_, caller_->ClientDisconnected(client)) &&
         Counted(calls_, failures_, *caller_, caller_->SessionTerminated(client));
}

}  // namespace certguard::testing
