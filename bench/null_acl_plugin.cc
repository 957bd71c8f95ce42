// A Mosquitto 2.0 v5 plugin that allows every ACL check and does nothing else: what the broker
// spends on calling any ACL plugin at all, the floor under certguard's cost per message
// (bench/broker_instructions_bench, configuration "n").
//
// With `plugin_opt_idle_thread true` it also starts one thread that only waits (configuration
// "t"). Once a process has a second thread, glibc takes the multi-threaded path in every
// cancellable system call the broker makes (read, write, epoll_wait) and locks its malloc arena:
// what any plugin that works off the broker's thread costs per message, certguard included
// (its policy watcher and snapshot reaper keep reloads off the broker's thread).
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace {

mosquitto_plugin_id_t* g_identifier = nullptr;

struct IdleThread {
  std::mutex mutex;
  std::condition_variable wakeup;
  bool stop = false;  // guarded by mutex
  std::thread thread{[this] {
    std::unique_lock lock(mutex);
    wakeup.wait(lock, [this] { return stop; });
  }};

  ~IdleThread() {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    wakeup.notify_one();
    thread.join();
  }
};
IdleThread* g_idle = nullptr;

int AllowEverything(int, void*, void*) { return MOSQ_ERR_SUCCESS; }

}  // namespace

extern "C" {

int mosquitto_plugin_version(int count, const int* versions) {
  for (int i = 0; i < count; ++i) {
    if (versions[i] == 5) return 5;
  }
  return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void**, struct mosquitto_opt* options,
                          int option_count) {
  g_identifier = identifier;
  for (int i = 0; i < option_count; ++i) {
    if (std::strcmp(options[i].key, "idle_thread") == 0 &&
        std::strcmp(options[i].value, "true") == 0 && g_idle == nullptr) {
      g_idle = new IdleThread;
    }
  }
  return mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, AllowEverything, nullptr,
                                     nullptr);
}

int mosquitto_plugin_cleanup(void*, struct mosquitto_opt*, int) {
  delete g_idle;
  g_idle = nullptr;
  return mosquitto_callback_unregister(g_identifier, MOSQ_EVT_ACL_CHECK, AllowEverything, nullptr);
}

}  // extern "C"
