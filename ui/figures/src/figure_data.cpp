#include "paramscope/figures/figure_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "paramscope/error.h"
#include "paramscope/figures/block_bars.h"

namespace paramscope::figures {

ProfileData profile_of(const ReducedMaps& maps, const Checkpoint& checkpoint, Reduction r) {
  const Hierarchy& h = checkpoint.hierarchy();
  std::map<std::string, std::size_t> tensor_index;
  for (std::size_t i = 0; i < checkpoint.tensors().size(); ++i) tensor_index[checkpoint.tensors()[i].name()] = i;
  const std::vector<std::size_t> block_of = block_ranks(checkpoint);  // every tensor sits in a block
  ProfileData d;
  std::map<std::string, std::size_t> series_of;
  struct Value {
    std::size_t block, series;
    double v;
    std::string tensor;
  };
  std::vector<Value> values;
  std::vector<char> scored(h.blocks().size(), 0);
  for (const ScoreSummary& t : maps.tensors) {
    const auto it = tensor_index.find(t.name);
    if (it == tensor_index.end()) continue;
    const std::string kind(module_kind_name(h.place(it->second).kind));
    const auto [s, added] = series_of.emplace(kind, series_of.size());
    if (added) d.series.push_back({kind, {}});
    values.push_back({block_of[it->second], s->second, t.value(r), t.name});
    scored[block_of[it->second]] = 1;
  }
  // Blocks with a score, in hierarchy order.
  std::vector<std::size_t> column_of(h.blocks().size(), 0);
  for (std::size_t b = 0; b < h.blocks().size(); ++b)
    if (scored[b]) {
      column_of[b] = d.block_labels.size();
      d.block_labels.push_back(block_label(h.blocks()[b]));
    }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto& s : d.series) s.values.assign(d.block_labels.size(), nan);
  d.tensors.assign(d.series.size(), std::vector<std::string>(d.block_labels.size()));
  for (const Value& v : values) {
    double& slot = d.series[v.series].values[column_of[v.block]];
    if (std::isnan(slot) || v.v > slot) {
      slot = std::isfinite(v.v) ? v.v : nan;
      d.tensors[v.series][column_of[v.block]] = v.tensor;
    }
  }
  return d;
}

HistogramData histogram_of(std::span<const float> values, int bins) {
  if (bins < 1 || bins > 100000) throw usage_error("histogram: bins must be in 1..100000");
  HistogramData d;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (float v : values)
    if (std::isfinite(v)) {
      lo = std::min(lo, static_cast<double>(v));
      hi = std::max(hi, static_cast<double>(v));
    } else {
      ++d.nan;
    }
  d.counts.assign(static_cast<std::size_t>(bins), 0);
  if (!(lo <= hi)) return d;  // nothing finite: empty bins over [0, 1]
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  d.lo = lo;
  d.hi = hi;
  const double scale = bins / (hi - lo);
  for (float v : values)
    if (std::isfinite(v)) {
      const auto b = std::min<std::size_t>(static_cast<std::size_t>((v - lo) * scale), d.counts.size() - 1);
      d.counts[b] += 1;
    }
  return d;
}

double top_fraction_threshold(std::span<const float> values, double fraction) {
  std::vector<float> finite;
  for (float v : values)
    if (std::isfinite(v)) finite.push_back(v);
  if (finite.empty()) throw usage_error("threshold: no finite values");
  const auto k = std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(fraction * static_cast<double>(finite.size()))),
                                         1, finite.size());
  std::nth_element(finite.begin(), finite.begin() + static_cast<std::ptrdiff_t>(k - 1), finite.end(), std::greater<>());
  return finite[k - 1];
}

}  // namespace paramscope::figures
