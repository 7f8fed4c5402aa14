// The graph-sim executable as a developer runs it: --help documents every knob,
// and a demo fixture serves a real client.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "core/redactor.h"
#include "graph/curl_transport.h"
#include "graph/graph_client.h"

namespace ta::graph {
namespace {

std::string Shell(const std::string& cmd) {
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  pclose(f);
  return out;
}

TEST(GraphSimBinary, HelpDocumentsEveryKnob) {
  const std::string help = Shell(std::string(TA_GRAPH_SIM) + " --help");
  for (const char* knob : {"--port", "--fixture", "--generate", "--throttle-window-ms",
                           "--throttle-max-requests", "--throttle-max-writes", "--no-throttle",
                           "--omit-retry-after", "--page-size", "--latency-ms", "--fault-rate",
                           "--token-lifetime-s", "--seed", "/_sim/requests", "/_sim/config"}) {
    EXPECT_NE(help.find(knob), std::string::npos) << knob;
  }
}

TEST(GraphSimBinary, ServesTheDemoFixtureToARealClient) {
  const std::string cmd =
      std::string(TA_GRAPH_SIM) + " --port 0 --fixture " + TA_SIM_FIXTURES + "/demo.json";
  FILE* proc = popen(("exec " + cmd).c_str(), "r");
  ASSERT_NE(proc, nullptr);
  char line[256] = {0};
  ASSERT_NE(fgets(line, sizeof line, proc), nullptr);
  const std::string first(line);
  const auto colon = first.rfind(':');
  ASSERT_NE(colon, std::string::npos) << first;
  const std::string base = "http://127.0.0.1:" + std::to_string(std::stoi(first.substr(colon + 1)));

  auto transport = MakeCurlTransport();
  Redactor redactor;
  AdaptiveLimiter limiter;
  GraphConfig cfg;
  cfg.authority_base = cfg.graph_base = base;
  TokenProvider tokens(*transport, base, cfg.scope, SystemClock::Instance(), redactor);
  GraphClient client(
      {"contoso-demo", "11111111-2222-4333-8444-555555555555", "demo-secret-Qx8~change-me"}, cfg,
      *transport, tokens, limiter, redactor);
  int total = 0;
  for (const auto& t : {"deviceConfigurations", "deviceCompliancePolicies", "configurationPolicies",
                        "groupPolicyConfigurations", "deviceManagementScripts",
                        "windowsAutopilotDeploymentProfiles", "deviceEnrollmentConfigurations",
                        "assignmentFilters"}) {
    auto items = ListAll(client, std::string("deviceManagement/") + t);
    ASSERT_TRUE(items.has_value()) << items.error().ToString();
    EXPECT_EQ(items->size(), 1u) << t;
    total += static_cast<int>(items->size());
  }
  EXPECT_EQ(total, 8);
  Shell("pkill -TERM -f '" + cmd + "'");
  pclose(proc);
}

}  // namespace
}  // namespace ta::graph
