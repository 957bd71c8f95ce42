#include "tests/exhook/exhook_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace certguard::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ExhookProcess::ExhookProcess(std::vector<std::string> arguments)
    : arguments_(std::move(arguments)), output_path_(dir_.path() + "/exhook.out") {
  if (std::find(arguments_.begin(), arguments_.end(), "--listen") == arguments_.end()) {
    arguments_.push_back("--listen");
    arguments_.push_back("127.0.0.1:0");
  }
}

ExhookProcess::~ExhookProcess() { Stop(SIGKILL); }

bool ExhookProcess::Spawn() {
  std::vector<std::string> argv{CERTGUARD_EXHOOK_PATH};
  argv.insert(argv.end(), arguments_.begin(), arguments_.end());
  // Everything the child needs is prepared before fork(): with gRPC's threads running, the child
  // may only make async-signal-safe calls (no allocation) until exec.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const char* output_path = output_path_.c_str();
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    // A test binary killed by a ctest timeout must not leave servers behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(output_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) ::_exit(127);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return true;
}

::testing::AssertionResult ExhookProcess::Start(std::chrono::milliseconds timeout) {
  if (!Spawn()) return ::testing::AssertionFailure() << "fork failed";
  // "listening on 127.0.0.1:PORT (": the port the server actually bound.
  static const std::regex kListening("listening on [^ ]*:([0-9]+) \\(");
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::smatch match;
    const std::string output = Output();
    if (std::regex_search(output, match, kListening)) {
      port_ = std::stoi(match[1].str());
      return ::testing::AssertionSuccess();
    }
    if (!Poll()) {
      return ::testing::AssertionFailure() << "certguard-exhook exited with "
                                           << ExitCodeOf(exit_status_) << " before listening:\n"
                                           << Output();
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Stop(SIGKILL);
  return ::testing::AssertionFailure()
         << "certguard-exhook did not listen within " << timeout.count() << " ms:\n"
         << Output();
}

int ExhookProcess::RunToExit(std::chrono::milliseconds timeout) {
  if (!Spawn()) return -1;
  const auto deadline = Clock::now() + timeout;
  while (Poll()) {
    if (Clock::now() >= deadline) {
      Stop(SIGKILL);
      return -1;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return ExitCodeOf(exit_status_);
}

bool ExhookProcess::Poll() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == 0) return true;
  if (done == pid_) exit_status_ = status;
  pid_ = -1;
  return false;
}

bool ExhookProcess::IsRunning() { return Poll(); }

bool ExhookProcess::SendSignal(int signal) const { return pid_ > 0 && ::kill(pid_, signal) == 0; }

int ExhookProcess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (!Poll()) return -1;
  ::kill(pid_, signal);
  const auto deadline = Clock::now() + timeout;
  while (Poll()) {
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      exit_status_ = status;
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return ExitCodeOf(exit_status_);
}

std::string ExhookProcess::Output() const {
  std::ifstream in(output_path_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ExhookProcess::WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout,
                                  size_t since) const {
  const auto deadline = Clock::now() + timeout;
  do {
    const std::string output = Output();
    if (output.size() > since && output.find(needle, since) != std::string::npos) return true;
    std::this_thread::sleep_for(kPollInterval);
  } while (Clock::now() < deadline);
  return false;
}

}  // namespace certguard::testing
