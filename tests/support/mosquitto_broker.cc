#include "tests/support/mosquitto_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace certguard::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

size_t FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return 0;
  auto size = in.tellg();
  return size < 0 ? 0 : static_cast<size_t>(size);
}

// The kernel hands out a currently unused port; another process may still grab it before the
// broker binds it, which Start() handles by retrying.
int PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool PortAcceptsTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string CurrentUserName() {
  passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr && pw->pw_name != nullptr ? pw->pw_name : "root";
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

int StatusToExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

MosquittoBroker::MosquittoBroker(BrokerOptions options)
    : options_(std::move(options)), dir_(std::make_unique<TempDir>()) {
  config_path_ = dir_->path() + "/mosquitto.conf";
  log_path_ = dir_->path() + "/mosquitto.log";
  output_path_ = dir_->path() + "/mosquitto.out";
}

MosquittoBroker::~MosquittoBroker() { Stop(); }

std::string MosquittoBroker::BuildConfig(int port) const {
  std::ostringstream c;
  c << "# written by certguard::testing::MosquittoBroker\n";
  // As root the broker would drop to user `mosquitto`, which cannot read the test's key files.
  c << "user " << CurrentUserName() << "\n";
  c << "log_dest file " << log_path_ << "\n";
  for (const auto& type : options_.log_types) c << "log_type " << type << "\n";
  c << "log_timestamp true\n";
  c << "log_timestamp_format %Y-%m-%dT%H:%M:%S\n";
  c << "connection_messages true\n";
  c << "set_tcp_nodelay " << (options_.tcp_nodelay ? "true" : "false") << "\n";
  c << "persistence " << (options_.persistence ? "true" : "false") << "\n";
  if (options_.persistence) c << "persistence_location " << dir_->path() << "/\n";
  c << "allow_anonymous " << (options_.allow_anonymous ? "true" : "false") << "\n";
  if (!options_.plugin_path.empty()) {
    c << "plugin " << options_.plugin_path << "\n";
    for (const auto& [key, value] : options_.plugin_options) {
      c << "plugin_opt_" << key << " " << value << "\n";
    }
  }
  for (const auto& line : options_.global_lines) c << line << "\n";

  c << "\nlistener " << port << " 127.0.0.1\n";
  if (!options_.cert_file.empty()) {
    if (!options_.ca_file.empty()) c << "cafile " << options_.ca_file << "\n";
    c << "certfile " << options_.cert_file << "\n";
    c << "keyfile " << options_.key_file << "\n";
    if (!options_.crl_file.empty()) c << "crlfile " << options_.crl_file << "\n";
    if (!options_.tls_version.empty()) c << "tls_version " << options_.tls_version << "\n";
    c << "require_certificate " << (options_.require_certificate ? "true" : "false") << "\n";
    if (options_.use_identity_as_username) c << "use_identity_as_username true\n";
  }
  for (const auto& line : options_.listener_lines) c << line << "\n";
  return c.str();
}

std::string MosquittoBroker::Config() const { return ReadFile(config_path_); }

::testing::AssertionResult MosquittoBroker::Start() {
  if (Poll()) return ::testing::AssertionFailure() << "broker already running, pid " << pid_;
  // A restart keeps the port so that clients can come back; only a first start may hunt.
  const bool pick_port = options_.port == 0 && port_ == 0;
  if (!pick_port && port_ == 0) port_ = options_.port;
  constexpr int kAttempts = 8;
  ::testing::AssertionResult result = ::testing::AssertionFailure() << "not started";
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    int port = pick_port ? PickFreePort() : port_;
    if (port == 0) return ::testing::AssertionFailure() << "could not find a free port";
    bool port_in_use = false;
    result = StartOnce(port, &port_in_use);
    if (result || !port_in_use || !pick_port) break;
  }
  return result;
}

::testing::AssertionResult MosquittoBroker::StartOnce(int port, bool* port_in_use) {
  *port_in_use = false;
  port_ = port;
  dir_->Write("mosquitto.conf", BuildConfig(port));
  // Each attempt gets a fresh log so that readiness is judged on this run only.
  ::unlink(log_path_.c_str());
  ::unlink(output_path_.c_str());

  // Everything the child needs is prepared before fork(): the test process has threads (the
  // clients' network loops), so the child may only make async-signal-safe calls before exec.
  const std::string arg0 = "mosquitto";
  const std::string arg1 = "-c";
  std::vector<char*> argv = {const_cast<char*>(arg0.c_str()), const_cast<char*>(arg1.c_str()),
                             const_cast<char*>(config_path_.c_str()), nullptr};
  const char* exe = options_.mosquitto_path.c_str();
  const char* out_path = output_path_.c_str();
  const pid_t parent = ::getpid();
  // The sanitizer build instruments our plugin but not Debian's broker: the ASan runtime must be
  // loaded into the broker before the plugin is, so test.sh names it here. The broker's own
  // leaks at exit are not ours to report (valgrind's plugin test covers ours).
  std::vector<std::string> env_strings;
  if (const char* preload = std::getenv("CERTGUARD_BROKER_PRELOAD"); preload && *preload) {
    // First, so they win over inherited values of the same name.
    env_strings.push_back(std::string("LD_PRELOAD=") + preload);
    env_strings.push_back("ASAN_OPTIONS=detect_leaks=0:abort_on_error=1");
  }
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) {
    return ::testing::AssertionFailure() << "fork failed: " << std::strerror(errno);
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    int out = ::open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    // Inherited client sockets would keep connections alive after a test client closes them.
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::execve(exe, argv.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;
  running_ = true;
  exit_status_.reset();

  const auto deadline = Clock::now() + options_.start_timeout;
  bool logged_running = false;
  while (Clock::now() < deadline) {
    if (!Poll()) {
      const std::string log = Log();
      *port_in_use = log.find("Address already in use") != std::string::npos;
      return ::testing::AssertionFailure()
             << "mosquitto " << DescribeStatus(*exit_status_) << " during start-up on port " << port
             << "\n--- config ---\n"
             << Config() << "--- log ---\n"
             << log;
    }
    // "running" is logged after the listeners are bound, so the port is ours, not a stranger's.
    if (!logged_running) logged_running = WaitForLog(" running", std::chrono::milliseconds(0));
    if (logged_running && PortAcceptsTcp(port)) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(kPollInterval);
  }
  std::string log = Log();
  Stop();
  return ::testing::AssertionFailure()
         << "mosquitto did not accept connections on port " << port << " within "
         << options_.start_timeout.count() << " ms\n--- config ---\n"
         << Config() << "--- log ---\n"
         << log;
}

bool MosquittoBroker::Poll() {
  if (!running_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    running_ = false;
    exit_status_ = status;
  } else if (r < 0 && errno == ECHILD) {
    running_ = false;  // reaped elsewhere; nothing left to wait for
  }
  return running_;
}

bool MosquittoBroker::IsRunning() { return Poll(); }

int MosquittoBroker::Stop() {
  if (!Poll()) {
    // Report an exit that happened on its own once, so a crash is not mistaken for a clean stop.
    if (exit_status_) {
      int code = StatusToExitCode(*exit_status_);
      exit_status_.reset();
      return code;
    }
    return -1;
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + options_.stop_timeout;
  while (Poll() && Clock::now() < deadline) std::this_thread::sleep_for(kPollInterval);
  if (running_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    running_ = false;
    exit_status_ = status;
  }
  int code = exit_status_ ? StatusToExitCode(*exit_status_) : -1;
  exit_status_.reset();
  return code;
}

std::string MosquittoBroker::Log() const {
  std::string log = ReadFile(log_path_);
  std::string out = ReadFile(output_path_);
  if (!out.empty()) log += "--- stdout/stderr ---\n" + out;
  return log;
}

size_t MosquittoBroker::LogMark() const { return FileSize(log_path_); }

bool MosquittoBroker::WaitForLog(const std::string& needle, std::chrono::milliseconds timeout,
                                 size_t since) const {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    std::string log = ReadFile(log_path_);
    if (log.size() > since && log.find(needle, since) != std::string::npos) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

bool MosquittoBroker::SendSighup() {
  if (!Poll()) return false;
  return ::kill(pid_, SIGHUP) == 0;
}

}  // namespace certguard::testing
