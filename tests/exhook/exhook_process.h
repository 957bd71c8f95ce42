#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_pki.h"

// The real certguard-exhook binary as a child process, for tests that act as EMQX.
namespace certguard::testing {

class ExhookProcess {
 public:
  // `arguments` follow the program name; without a --listen among them, "--listen
  // 127.0.0.1:0" is added and the port is read from the server's "listening on" line.
  explicit ExhookProcess(std::vector<std::string> arguments);
  ~ExhookProcess();
  ExhookProcess(const ExhookProcess&) = delete;
  ExhookProcess& operator=(const ExhookProcess&) = delete;

  // Spawns the server and waits until it listens. On failure the message carries its output.
  ::testing::AssertionResult Start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Runs the server to completion, for start-up failures: waits for it to exit (killing it after
  // `timeout`) and returns its exit code (-1 if killed). Output() has what it printed.
  int RunToExit(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Sends `signal` (SIGTERM by default), waits up to `timeout`, then SIGKILLs; always reaps.
  // Returns the exit code, 128+signal when it died from a signal, -1 when it was not running.
  int Stop(int signal = 15, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool SendSignal(int signal) const;
  bool IsRunning();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  // Everything the server wrote to stderr/stdout so far.
  std::string Output() const;
  size_t OutputMark() const { return Output().size(); }
  // Waits until `needle` appears in the output after `since`.
  bool WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout,
                     size_t since = 0) const;

 private:
  bool Spawn();
  bool Poll();  // reaps the child if it exited; true while it runs

  std::vector<std::string> arguments_;
  TempDir dir_;
  std::string output_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_status_ = -1;  // raw waitpid status once reaped
};

}  // namespace certguard::testing
