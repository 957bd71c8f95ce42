// Mosquitto 2.0 v5 plugin entry points: parse options, create the adapter, route each event to
// one CertguardPlugin method.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <atomic>
#include <cstring>
#include <exception>

#include "mosquitto-plugin/certguard_plugin.h"

using certguard::mosquitto_plugin::CertguardPlugin;

namespace {

mosquitto_plugin_id_t* g_identifier = nullptr;
// per_listener_settings initialises the same .so once per listener and then never delivers TICK
// (2.0.11): reloads and revocations would silently stop reaching live sessions.
std::atomic<int> g_instances{0};

CertguardPlugin* PluginOf(void* userdata) { return static_cast<CertguardPlugin*>(userdata); }

// Any exception escaping into the broker would abort it; a decision that cannot be made denies.
template <typename F>
int Guarded(const char* event, int on_error, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "certguard: internal error in %s: %s", event, e.what());
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "certguard: internal error in %s", event);
  }
  return on_error;
}

int OnBasicAuth(int, void* event_data, void* userdata) {
  auto* ed = static_cast<mosquitto_evt_basic_auth*>(event_data);
  return Guarded("basic auth", MOSQ_ERR_AUTH,
                 [&] { return PluginOf(userdata)->OnBasicAuth(ed->client); });
}

int OnAclCheck(int, void* event_data, void* userdata) {
  auto* ed = static_cast<mosquitto_evt_acl_check*>(event_data);
  return Guarded("ACL check", MOSQ_ERR_ACL_DENIED,
                 [&] { return PluginOf(userdata)->OnAclCheck(ed->client, ed->topic, ed->access); });
}

int OnReload(int, void*, void* userdata) {
  Guarded("reload", MOSQ_ERR_PLUGIN_DEFER, [&] {
    PluginOf(userdata)->OnReload();
    return MOSQ_ERR_PLUGIN_DEFER;
  });
  // DEFER lets the broker go on to reload its own files (2.0.x stops the chain otherwise).
  return MOSQ_ERR_PLUGIN_DEFER;
}

int OnTick(int, void*, void* userdata) {
  Guarded("tick", MOSQ_ERR_SUCCESS, [&] {
    PluginOf(userdata)->OnTick();
    return MOSQ_ERR_SUCCESS;
  });
  return MOSQ_ERR_SUCCESS;
}

int OnDisconnect(int, void* event_data, void* userdata) {
  auto* ed = static_cast<mosquitto_evt_disconnect*>(event_data);
  Guarded("disconnect", MOSQ_ERR_SUCCESS, [&] {
    PluginOf(userdata)->OnDisconnect(ed->client);
    return MOSQ_ERR_SUCCESS;
  });
  return MOSQ_ERR_SUCCESS;
}

struct Registration {
  int event;
  MOSQ_FUNC_generic_callback callback;
};
constexpr Registration kEvents[] = {
    {MOSQ_EVT_BASIC_AUTH, OnBasicAuth},  {MOSQ_EVT_ACL_CHECK, OnAclCheck},
    {MOSQ_EVT_RELOAD, OnReload},         {MOSQ_EVT_TICK, OnTick},
    {MOSQ_EVT_DISCONNECT, OnDisconnect},
};

}  // namespace

// The module is built with hidden visibility; only the three entry points are exported.
#define CERTGUARD_EXPORT __attribute__((visibility("default")))

extern "C" {

CERTGUARD_EXPORT int mosquitto_plugin_version(int supported_version_count,
                                              const int* supported_versions) {
  for (int i = 0; i < supported_version_count; ++i) {
    if (supported_versions[i] == 5) return 5;
  }
  return -1;
}

CERTGUARD_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                                           struct mosquitto_opt* options, int option_count) {
  if (g_instances.fetch_add(1) != 0) {
    mosquitto_log_printf(MOSQ_LOG_ERR,
                         "certguard: loaded twice; `per_listener_settings true` is not supported "
                         "(Mosquitto 2.0 sends no TICK events then, so policy reloads and "
                         "revocations would never reach connected clients)");
    g_instances.fetch_sub(1);
    return MOSQ_ERR_INVAL;
  }
  CertguardPlugin::Options parsed;
  for (int i = 0; i < option_count; ++i) {
    const char* key = options[i].key;
    const char* value = options[i].value != nullptr ? options[i].value : "";
    if (std::strcmp(key, "policy") == 0) {
      parsed.policy_path = value;
    } else if (std::strcmp(key, "audit") == 0) {
      parsed.audit_path = value;
    } else {
      mosquitto_log_printf(MOSQ_LOG_ERR,
                           "certguard: unknown option plugin_opt_%s (known: plugin_opt_policy, "
                           "plugin_opt_audit)",
                           key);
      g_instances.fetch_sub(1);
      return MOSQ_ERR_INVAL;
    }
  }
  int rc = MOSQ_ERR_UNKNOWN;
  Guarded("init", MOSQ_ERR_UNKNOWN, [&] {
    auto plugin = CertguardPlugin::Create(parsed);
    if (!plugin) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "certguard: cannot start: %s",
                           plugin.error().message.c_str());
      rc = MOSQ_ERR_INVAL;
      return rc;
    }
    *userdata = std::move(plugin).value().release();
    rc = MOSQ_ERR_SUCCESS;
    return rc;
  });
  if (rc != MOSQ_ERR_SUCCESS) {
    g_instances.fetch_sub(1);
    return rc;
  }
  g_identifier = identifier;
  for (const Registration& r : kEvents) {
    if (mosquitto_callback_register(identifier, r.event, r.callback, nullptr, *userdata) !=
        MOSQ_ERR_SUCCESS) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "certguard: cannot register for event %d", r.event);
      return MOSQ_ERR_UNKNOWN;
    }
  }
  return MOSQ_ERR_SUCCESS;
}

CERTGUARD_EXPORT int mosquitto_plugin_cleanup(void* userdata, struct mosquitto_opt*, int) {
  if (g_identifier != nullptr) {
    for (const Registration& r : kEvents) {
      mosquitto_callback_unregister(g_identifier, r.event, r.callback, nullptr);
    }
  }
  delete PluginOf(userdata);
  g_identifier = nullptr;
  g_instances.fetch_sub(1);
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
