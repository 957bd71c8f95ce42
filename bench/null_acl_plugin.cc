// A Mosquitto 2.0 v5 plugin that allows every ACL check and does nothing else: what the broker
// spends on calling any ACL plugin at all, the floor under certguard's cost per message
// (bench/broker_instructions_bench, configuration "n").
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

namespace {

mosquitto_plugin_id_t* g_identifier = nullptr;

int AllowEverything(int, void*, void*) { return MOSQ_ERR_SUCCESS; }

}  // namespace

extern "C" {

int mosquitto_plugin_version(int count, const int* versions) {
  for (int i = 0; i < count; ++i) {
    if (versions[i] == 5) return 5;
  }
  return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void**, struct mosquitto_opt*, int) {
  g_identifier = identifier;
  return mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, AllowEverything, nullptr,
                                     nullptr);
}

int mosquitto_plugin_cleanup(void*, struct mosquitto_opt*, int) {
  return mosquitto_callback_unregister(g_identifier, MOSQ_EVT_ACL_CHECK, AllowEverything, nullptr);
}

}  // extern "C"
