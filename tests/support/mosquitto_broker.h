#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_pki.h"

// A real Mosquitto broker process (the Debian build, /usr/sbin/mosquitto) on 127.0.0.1, for
// integration tests, soak tests and benchmarks. Knows nothing about certguard: a plugin is just
// a path plus options.
namespace certguard::testing {

struct BrokerOptions {
  std::string mosquitto_path = "/usr/sbin/mosquitto";

  // TLS on the listener. Leave cert_file empty for a plain-TCP listener.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string crl_file;     // optional `crlfile`
  std::string tls_version;  // optional, e.g. "tlsv1.3"; empty: Mosquitto's default
  bool require_certificate = true;
  bool use_identity_as_username = false;

  // Plugin tests want anonymous clients refused unless the plugin lets them in.
  bool allow_anonymous = false;

  // Optional v5 plugin; options are written as `plugin_opt_<key> <value>` right after it.
  std::string plugin_path;
  std::vector<std::pair<std::string, std::string>> plugin_options;

  // Extra lines: `global_lines` go before the listener, `listener_lines` inside it.
  std::vector<std::string> global_lines;
  std::vector<std::string> listener_lines;

  // `log_type` lines. Must include "notice" (or "all"): Start() waits for the "running" notice.
  // Benchmarks drop "debug", which logs two lines per message and would dominate what they time.
  std::vector<std::string> log_types = {"all"};

  bool persistence = false;  // true: persistence_location is the broker's temp dir
  bool tcp_nodelay = true;   // see facts/mosquitto-2.0.md: Nagle costs ~40 ms per TLS connect

  // 0: pick a free port. A fixed port is used as given (no retry).
  int port = 0;
  std::chrono::milliseconds start_timeout{10000};
  std::chrono::milliseconds stop_timeout{10000};
};

// Owns the broker process: Start() spawns it, the destructor (or Stop()) terminates and reaps
// it, whatever the test outcome. The child also gets PR_SET_PDEATHSIG=SIGKILL, so a test binary
// killed by a ctest timeout does not leak brokers (this ties the broker to the thread that called
// Start(): start brokers from a thread that outlives them, normally the test's main thread).
class MosquittoBroker {
 public:
  explicit MosquittoBroker(BrokerOptions options);
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // Writes mosquitto.conf, spawns the broker and waits until it logs that it runs and its port
  // accepts TCP. On failure the message carries the config and the broker's log. Calling Start()
  // again after Stop() restarts the broker on the same port (clients can reconnect).
  // Note: readiness probing makes one TCP connection, so a TLS listener logs one "Client
  // connection from 127.0.0.1 failed: ... unexpected eof while reading." right after start-up;
  // use LogMark() to look only at what a test did.
  ::testing::AssertionResult Start();

  // SIGTERM, wait up to stop_timeout, then SIGKILL; always reaps. Returns the exit code, or
  // 128+signal if the broker died from a signal, or -1 if it was not running (or already reaped
  // and reported). Mosquitto exits 0 on SIGTERM.
  int Stop();

  bool IsRunning();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_->path(); }
  const std::string& config_path() const { return config_path_; }
  const std::string& log_path() const { return log_path_; }

  // The broker's log file (plus anything it wrote to stdout/stderr, which only happens before
  // logging is set up, e.g. config errors).
  std::string Log() const;
  // Current size of the log; pass to WaitForLog to ignore everything logged before.
  size_t LogMark() const;
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout,
                  size_t since = 0) const;

  // Returns false if the signal could not be sent. The broker logs "Reloading config." when it
  // handles the signal.
  bool SendSighup();

  // The config the broker was started with (for failure messages).
  std::string Config() const;

 private:
  std::string BuildConfig(int port) const;
  ::testing::AssertionResult StartOnce(int port, bool* port_in_use);
  // Reaps the child if it exited; returns true while it runs.
  bool Poll();

  BrokerOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::string config_path_;
  std::string log_path_;
  std::string output_path_;  // the child's stdout+stderr
  int port_ = 0;
  pid_t pid_ = -1;
  bool running_ = false;
  std::optional<int> exit_status_;  // raw waitpid status of the last run, once reaped
};

}  // namespace certguard::testing
