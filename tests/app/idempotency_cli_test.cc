// End-to-end: runs the real `tenantatlas idempotency-key` binary, as an
// operator would, on every golden vector and on malformed input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

struct CliRun {
  int exit_code;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

CliRun RunCli(const std::string& stdin_text, const std::string& args = "") {
  char dir_template[] = "/tmp/ta-cli-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::ofstream(dir + "/in") << stdin_text;
  const std::string cmd = std::string(TA_BINARY) + " idempotency-key " + args + " < " + dir +
                          "/in > " + dir + "/out 2> " + dir + "/err";
  const int status = std::system(cmd.c_str());
  CliRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(dir + "/out"),
           ReadFile(dir + "/err")};
  std::system(("rm -rf " + dir).c_str());
  return r;
}

TEST(IdempotencyKeyCli, PrintsTheGoldenKeyForEveryVector) {
  std::ifstream f(std::string(TA_TEST_DATA_DIR) + "/idempotency-vectors.json");
  const auto vectors = nlohmann::ordered_json::parse(f);
  ASSERT_EQ(vectors.size(), 16u);
  for (const auto& v : vectors) {
    CliRun r = RunCli(v["input"].dump(2));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, v["key"].get<std::string>() + "\n") << v["input"].dump();
    EXPECT_EQ(r.err, "");
  }
}

TEST(IdempotencyKeyCli, ExplainPrintsTheCanonicalJson) {
  CliRun r = RunCli(R"({"tenant_id":1,"operation_type":"policy.capture_snapshot","target_id":42})",
                    "--explain");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(
      r.out,
      "a513a7da2fbeef549042463d69956ddc3cca3b799ebf2875379cf0e26233472e\n"
      R"({"tenant_id":1,"operation_type":"policy.capture_snapshot","target_id":"42","context":[]})"
      "\n");
}

void ExpectOneLineError(const CliRun& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "error must be one line: " << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

TEST(IdempotencyKeyCli, MalformedJsonExitsTwoWithOneLine) {
  ExpectOneLineError(RunCli("{\"tenant_id\": 1,\n oops}"), "not valid JSON");
}

TEST(IdempotencyKeyCli, EmptyInputExitsTwo) { ExpectOneLineError(RunCli(""), "no input"); }

TEST(IdempotencyKeyCli, MissingFieldIsNamed) {
  ExpectOneLineError(RunCli(R"({"tenant_id":1})"), "operation_type: is required");
}

TEST(IdempotencyKeyCli, InvalidUtf8IsRejectedNotReplaced) {
  ExpectOneLineError(RunCli("{\"tenant_id\":1,\"operation_type\":\"op\xC3\"}"), "UTF-8");
}

}  // namespace
