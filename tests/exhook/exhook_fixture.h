#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/exhook/exhook_process.h"
#include "tests/exhook/fake_emqx.h"
#include "tests/support/test_pki.h"

namespace certguard::testing {

// A policy directory with a CA, and helpers to run certguard-exhook on it and call it as EMQX.
class ExhookFixture : public ::testing::Test {
 protected:
  ExhookFixture() { dir_.Write("ca.crt", ca_.cert_pem()); }

  std::string policy_path() const { return dir_.path() + "/policy.yaml"; }

  // Writes beside the target and renames into place, as editors and config management do, so
  // the server never reads half a file.
  std::string WriteAtomically(const std::string& name, const std::string& contents) const {
    const std::string temp = dir_.Write(name + ".tmp", contents);
    const std::string path = dir_.path() + "/" + name;
    EXPECT_EQ(std::rename(temp.c_str(), path.c_str()), 0) << path;
    return path;
  }
  void WritePolicy(const std::string& text) const { WriteAtomically("policy.yaml", text); }

  // Starts certguard-exhook on policy.yaml with `extra` arguments; null (after a test failure)
  // when it does not come up.
  std::unique_ptr<ExhookProcess> StartServer(std::vector<std::string> extra = {}) const {
    std::vector<std::string> arguments{"--policy", policy_path(), "--threads", "4"};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ExhookProcess>(std::move(arguments));
    if (auto started = server->Start(); !started) {
      ADD_FAILURE() << started.message();
      return nullptr;
    }
    return server;
  }

  static std::unique_ptr<FakeEmqx> EmqxFor(const ExhookProcess& server,
                                           ExhookVersion version = ExhookVersion::kV2) {
    return std::make_unique<FakeEmqx>(version, FakeEmqx::PlainChannel(server.address()));
  }

  // Waits for the server to log that it swapped in a new policy (or rejected one) since `mark`.
  static ::testing::AssertionResult WaitForReload(const ExhookProcess& server, size_t mark,
                                                  const std::string& what = "policy reloaded") {
    if (server.WaitForOutput(what, std::chrono::seconds(10), mark)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "no \"" << what << "\" in:\n"
                                         << server.Output().substr(mark);
  }

  TempDir dir_;
  TestCa ca_;
};

}  // namespace certguard::testing
