#pragma once

// Process metrics in the Prometheus text format: counters and histograms with
// labels. Layers record into a Metrics they are given (never a global);
// `serve` renders it at /metrics. Thread-safe; recording takes one short lock.

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/thread_annotations.h"

namespace ta {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // Declares a family once (later calls are ignored). `buckets` only for histograms.
  void DescribeCounter(std::string name, std::string help);
  void DescribeHistogram(std::string name, std::string help, std::vector<double> buckets);

  void Add(std::string_view name, const Labels& labels, double delta = 1);
  void Observe(std::string_view name, const Labels& labels, double value);

  // Every family, in name order, as Prometheus text (version 0.0.4).
  std::string Render() const;

  // The current value of one counter series (0 when absent); for tests.
  double CounterValue(std::string_view name, const Labels& labels) const;

 private:
  struct Histogram {
    std::vector<double> counts;  // per bucket, not cumulative
    double sum = 0;
    double count = 0;
  };
  struct Family {
    std::string help;
    bool histogram = false;
    std::vector<double> buckets;
    std::map<std::string, double> counters;  // rendered label set -> value
    std::map<std::string, Histogram> histograms;
  };

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_ GUARDED_BY(mu_);
};

// Renders {a="x",b="y"} with Prometheus escaping ("" when empty).
std::string RenderLabels(const Labels& labels);

// One gauge's HELP, TYPE and sample lines (a value sampled at scrape time,
// outside the registry).
std::string GaugeText(const std::string& name, const std::string& help, int64_t value);

}  // namespace ta
