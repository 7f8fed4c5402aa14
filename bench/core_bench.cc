// Microbenchmarks for the hot core paths: every start computes a key, every
// log line and stored error passes the Redactor.
#include <benchmark/benchmark.h>

#include "core/idempotency.h"
#include "core/redactor.h"

namespace {

void BM_RestoreExecuteKey(benchmark::State& state) {
  ta::php::Array mapping;
  for (int i = 0; i < state.range(0); ++i) {
    mapping.push_back({std::string("a1c2e0aa-0000-4000-8000-") + std::to_string(100000000000 + i),
                       ta::php::Value("b0000000-0000-4000-8000-00000000000b")});
  }
  std::vector<int64_t> ids;
  for (int i = 0; i < state.range(0); ++i) ids.push_back(state.range(0) - i);
  const ta::php::Value m(std::move(mapping));
  for (auto _ : state) benchmark::DoNotOptimize(ta::RestoreExecuteKey(5, 9, ids, m));
}
BENCHMARK(BM_RestoreExecuteKey)->Arg(1)->Arg(50)->Arg(500);

void BM_RedactLogLine(benchmark::State& state) {
  ta::Redactor r;
  for (int i = 0; i < state.range(0); ++i)
    r.RegisterSecret("tenant-secret-" + std::to_string(i) + "~Qx8.abcdEFGH");
  const std::string line =
      "POST https://login.example/tenant/oauth2/v2.0/token failed: 401 "
      "{\"error\":\"invalid_client\","
      "\"error_description\":\"AADSTS7000215: Invalid client secret provided.\"} body=grant_type="
      "client_credentials&client_id=1234&client_secret=tenant-secret-7~Qx8.abcdEFGH&scope=graph";
  for (auto _ : state) benchmark::DoNotOptimize(r.Redact(line));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * line.size()));
}
BENCHMARK(BM_RedactLogLine)->Arg(1)->Arg(500);

}  // namespace

BENCHMARK_MAIN();
