#pragma once

// Real processes for end-to-end and fault tests: a child with stdout on a
// pipe (read with WaitFor) and stderr in a file, and a shell helper.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

namespace ta::testing {

struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string buffered;

  static Child Start(const std::vector<std::string>& argv, const std::string& stderr_path,
                     const std::vector<std::string>& env = {}) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    Child c;
    c.pid = fork();
    if (c.pid == 0) {
      dup2(fds[1], 1);
      FILE* err = std::fopen(stderr_path.c_str(), "w");
      dup2(fileno(err), 2);
      close(fds[0]);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    c.out = fds[0];
    return c;
  }
  // Reads stdout until `pattern` matches (or the deadline); returns the match.
  std::smatch WaitFor(const std::regex& pattern, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::smatch m;
    while (!std::regex_search(buffered, m, pattern)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{out, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = read(out, buf, sizeof buf);
      if (n <= 0) break;
      buffered.append(buf, n);
    }
    return m;
  }
  // Signals the child and reaps it; returns its exit code (-1: killed by a signal).
  int Stop(int sig = SIGTERM) {
    if (pid <= 0) return -1;
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    close(out);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

// Runs a shell command; `out` gets stdout (and stderr unless stdout_only).
inline int Shell(const std::string& cmd, std::string* out = nullptr, bool stdout_only = false) {
  FILE* f = popen((cmd + (stdout_only ? " 2>/dev/null" : " 2>&1")).c_str(), "r");
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) text.append(buf, n);
  const int status = pclose(f);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A test with its own temporary directory, removed after it.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ta-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

}  // namespace ta::testing
