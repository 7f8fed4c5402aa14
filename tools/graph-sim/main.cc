// graph-sim: a Microsoft Graph / Intune simulator on loopback. See --help.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sim.h"

int main(int argc, char** argv) {
  ta::sim::SimConfig cfg;
  std::string host = "127.0.0.1", fixture, tenant, client_id, client_secret;
  int port = 8090, generate = 0;
  CLI::App app{
      "graph-sim: emulates the Microsoft Graph and Entra token endpoints TenantAtlas uses, on "
      "loopback.\n"
      "Token: POST /{tenant}/oauth2/v2.0/token (client credentials). Graph: "
      "/beta|/v1.0/deviceManagement/\n"
      "{deviceConfigurations, deviceCompliancePolicies, configurationPolicies, "
      "groupPolicyConfigurations,\n"
      "deviceManagementScripts, windowsAutopilotDeploymentProfiles, "
      "deviceEnrollmentConfigurations,\n"
      "assignmentFilters} (list/get/create/update/assign/assignments), "
      "configurationPolicies/{id}/settings,\n"
      "groupPolicyConfigurations/{id}/definitionValues, /groups. Control: GET|DELETE "
      "/_sim/requests (request\n"
      "log), POST /_sim/config (any knob below by its long name with _ for -, plus "
      "fail_next/fail_status, deny_paths (403 for these collections) and\n"
      "reset_throttle, revoke_tokens, log_requests, reset_stats), POST /_sim/fixture, POST\n"
      "/_sim/admin-change, GET /_sim/stats (requests per tenant), GET /_sim/health."};
  app.add_option("--host", host, "Address to bind (loopback only in tests)")->capture_default_str();
  app.add_option("--port", port, "Port to bind; 0 picks a free one")->capture_default_str();
  app.add_option(
      "--fixture", fixture,
      "JSON fixture: "
      "{\"tenants\":[{\"id\",\"apps\":[{\"client_id\",\"client_secret\"}],\"groups\":[...],"
      "\"policies\":{collection:[...]},\"generate\":N}]}");
  app.add_option("--tenant", tenant, "Create this tenant (with --client-id/--client-secret)");
  app.add_option("--client-id", client_id, "App (client) id for --tenant");
  app.add_option("--client-secret", client_secret, "App secret for --tenant");
  app.add_option("--generate", generate,
                 "Generate N synthetic policies (over all 8 types) in --tenant");
  app.add_option("--throttle-window-ms", cfg.throttle_window_ms,
                 "Sliding throttle window per tenant per app (Intune: 20 s)")
      ->capture_default_str();
  app.add_option("--throttle-max-requests", cfg.throttle_max_requests,
                 "Requests allowed per window (Intune: 1000)")
      ->capture_default_str();
  app.add_option("--throttle-max-writes", cfg.throttle_max_writes,
                 "Writes (POST/PATCH/PUT) allowed per window (Intune: 100)")
      ->capture_default_str();
  app.add_flag("!--no-throttle", cfg.throttle_enabled, "Disable throttling");
  app.add_flag("--omit-retry-after", cfg.omit_retry_after,
               "Send 429 without Retry-After, as Intune sometimes does");
  app.add_option("--page-size", cfg.page_size, "Default page size of lists ($top overrides)")
      ->capture_default_str();
  app.add_option("--latency-ms", cfg.latency_ms, "Latency added to every Graph request")
      ->capture_default_str();
  app.add_option("--fault-rate", cfg.fault_rate, "Share (0..1) of Graph requests answered 503")
      ->capture_default_str();
  app.add_option("--token-lifetime-s", cfg.token_lifetime_s, "Access token lifetime")
      ->capture_default_str();
  app.add_option("--seed", cfg.seed, "Random seed (ids, faults)")->capture_default_str();
  app.add_option("--threads", cfg.threads, "Server worker threads (each request holds one for "
                                           "--latency-ms)")
      ->capture_default_str();
  bool no_log = false;
  app.add_flag("--no-request-log", no_log,
               "Keep no request log (GET /_sim/stats still counts requests per tenant)");
  CLI11_PARSE(app, argc, argv);

  // Block the signals before any thread starts, so sigwait below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  ta::sim::GraphSim sim(cfg);
  if (no_log) sim.Configure({{"log_requests", false}});
  if (!fixture.empty()) {
    std::ifstream f(fixture);
    auto json = nlohmann::json::parse(f, nullptr, false);
    std::string error;
    if (json.is_discarded() || !sim.LoadFixture(json, &error)) {
      std::cerr << "graph-sim: cannot load fixture " << fixture << ": "
                << (error.empty() ? "malformed JSON" : error) << "\n";
      return 2;
    }
  }
  if (!tenant.empty()) {
    sim.AddTenant(tenant, {{client_id, client_secret}});
    if (generate > 0) sim.GeneratePolicies(tenant, generate);
  }
  const int bound = sim.Start(host, port);
  if (bound < 0) {
    std::cerr << "graph-sim: cannot bind " << host << ":" << port << "\n";
    return 1;
  }
  std::cout << "graph-sim listening on http://" << host << ":" << bound << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  sim.Stop();
  return 0;
}
