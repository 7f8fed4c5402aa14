#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ta {
namespace {

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}

// "{a="x"}" + extra label -> "{a="x",le="0.5"}"
std::string WithLabel(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string GaugeText(const std::string& name, const std::string& help, int64_t value) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
         std::to_string(value) + "\n";
}

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

void Metrics::DescribeCounter(std::string name, std::string help) {
  std::lock_guard lock(mu_);
  auto& f = families_[std::move(name)];
  if (f.help.empty()) f.help = std::move(help);
}

void Metrics::DescribeHistogram(std::string name, std::string help, std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  auto& f = families_[std::move(name)];
  if (!f.help.empty()) return;
  f.help = std::move(help);
  f.histogram = true;
  std::sort(buckets.begin(), buckets.end());
  f.buckets = std::move(buckets);
}

void Metrics::Add(std::string_view name, const Labels& labels, double delta) {
  const std::string key = RenderLabels(labels);
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  it->second.counters[key] += delta;
}

void Metrics::Observe(std::string_view name, const Labels& labels, double value) {
  const std::string key = RenderLabels(labels);
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || !it->second.histogram) return;  // undeclared: a bug, not data
  Family& f = it->second;
  Histogram& h = f.histograms[key];
  if (h.counts.empty()) h.counts.assign(f.buckets.size(), 0);
  const auto b = std::lower_bound(f.buckets.begin(), f.buckets.end(), value);
  if (b != f.buckets.end()) h.counts[b - f.buckets.begin()] += 1;
  h.sum += value;
  h.count += 1;
}

double Metrics::CounterValue(std::string_view name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto c = it->second.counters.find(RenderLabels(labels));
  return c == it->second.counters.end() ? 0 : c->second;
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + (f.histogram ? " histogram\n" : " counter\n");
    for (const auto& [labels, v] : f.counters) out += name + labels + " " + Number(v) + "\n";
    for (const auto& [labels, h] : f.histograms) {
      double cumulative = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += h.counts[i];
        out += name + "_bucket" + WithLabel(labels, "le=\"" + Number(f.buckets[i]) + "\"") + " " +
               Number(cumulative) + "\n";
      }
      out += name + "_bucket" + WithLabel(labels, "le=\"+Inf\"") + " " + Number(h.count) + "\n";
      out += name + "_sum" + labels + " " + Number(h.sum) + "\n";
      out += name + "_count" + labels + " " + Number(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace ta
