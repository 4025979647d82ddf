#include "paramscope/figures/figure_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "paramscope/error.h"
#include "paramscope/figures/block_bars.h"

namespace paramscope::figures {
namespace {

// The checkpoint index of each tensor name (results name their tensors).
std::map<std::string, std::size_t> tensor_indices(const Checkpoint& checkpoint) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < checkpoint.tensors().size(); ++i) index[checkpoint.tensors()[i].name()] = i;
  return index;
}

bool has_neuron_maps(Granularity g) {
  return g == Granularity::Row || g == Granularity::Column || g == Granularity::Head;
}

}  // namespace

ProfileData profile_of(const ReducedMaps& maps, const Checkpoint& checkpoint, Reduction r) {
  const Hierarchy& h = checkpoint.hierarchy();
  const std::map<std::string, std::size_t> tensor_index = tensor_indices(checkpoint);
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

SurfaceGrid surface_of_pyramid(const TensorPyramid& pyramid, int max_rows, int max_cols, PyramidReduction reduction) {
  if (max_rows < 1 || max_cols < 1 || max_rows > SurfaceScene::kMaxSide || max_cols > SurfaceScene::kMaxSide)
    throw usage_error("surface: a grid of at most " + std::to_string(max_rows) + " x " + std::to_string(max_cols) +
                      " points is outside 1.." + std::to_string(SurfaceScene::kMaxSide) + " a side");
  const std::int64_t rows = pyramid.rows(), cols = pyramid.cols();
  const int out_h = static_cast<int>(std::min<std::int64_t>(rows, max_rows));
  const int out_w = static_cast<int>(std::min<std::int64_t>(cols, max_cols));
  if (!pyramid.has(reduction))
    reduction = reduction == PyramidReduction::Mean ? PyramidReduction::MaxAbs : PyramidReduction::Mean;
  SurfaceGrid g;
  g.values = pyramid.view(0, static_cast<double>(rows), 0, static_cast<double>(cols), out_w, out_h, reduction);
  g.rows = out_h;
  g.cols = out_w;
  // Grid point i stands for the cell [i, i + 1) * step: its centre in element indices.
  const double rstep = static_cast<double>(rows) / out_h, cstep = static_cast<double>(cols) / out_w;
  g.row_first = 0.5 * rstep - 0.5;
  g.row_last = (out_h - 0.5) * rstep - 0.5;
  g.col_first = 0.5 * cstep - 0.5;
  g.col_last = (out_w - 0.5) * cstep - 0.5;
  g.row_axis = "row";
  g.col_axis = "column";
  g.value_axis = out_h < rows || out_w < cols
                     ? (reduction == PyramidReduction::Mean ? "mean per cell" : "max |x| per cell (signed)")
                     : "value";
  return g;
}

std::vector<std::string> surface_kinds(const ReducedMaps& maps, const Checkpoint& checkpoint) {
  std::vector<std::string> kinds;
  if (!has_neuron_maps(maps.granularity)) return kinds;
  const auto index = tensor_indices(checkpoint);
  for (const ReducedMaps::Map& m : maps.maps) {
    const auto it = index.find(m.name);
    if (it == index.end() || m.values.empty()) continue;
    std::string kind(module_kind_name(checkpoint.hierarchy().place(it->second).kind));
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(std::move(kind));
  }
  return kinds;
}

SurfaceGrid surface_of_neurons(const ReducedMaps& maps, const Checkpoint& checkpoint, std::string_view kind,
                               int max_rows, int max_cols, PyramidReduction reduction) {
  if (!has_neuron_maps(maps.granularity))
    throw usage_error("surface: importance per " + std::string(granularity_name(maps.granularity)) +
                      " has no neuron maps (compute it per neuron, input or head)");
  const Hierarchy& h = checkpoint.hierarchy();
  const auto index = tensor_indices(checkpoint);
  const std::vector<std::size_t> block_of = block_ranks(checkpoint);
  std::map<std::string, double> score;
  for (const ScoreSummary& t : maps.tensors) score[t.name] = t.value(maps.reduction);
  struct Chosen {
    const ReducedMaps::Map* map;
    double score;
  };
  std::map<std::size_t, Chosen> by_block;  // ordered by block rank: hierarchy order
  for (const ReducedMaps::Map& m : maps.maps) {
    const auto it = index.find(m.name);
    if (it == index.end() || m.values.empty() || module_kind_name(h.place(it->second).kind) != kind) continue;
    const auto s = score.find(m.name);
    const double v = s != score.end() && std::isfinite(s->second) ? s->second : -std::numeric_limits<double>::infinity();
    const auto [slot, added] = by_block.emplace(block_of[it->second], Chosen{&m, v});
    if (!added && v > slot->second.score) slot->second = {&m, v};
  }
  if (by_block.empty()) {
    std::string known;
    for (const std::string& k : surface_kinds(maps, checkpoint)) known += (known.empty() ? "" : ", ") + k;
    throw usage_error("surface: no neuron maps of module kind '" + std::string(kind) + "' (there are: " +
                      (known.empty() ? std::string("none") : known) + ")");
  }
  SurfaceGrid g;
  g.rows = static_cast<std::int64_t>(by_block.size());
  for (const auto& [b, c] : by_block) g.cols = std::max(g.cols, static_cast<std::int64_t>(c.map->values.size()));
  g.values.assign(static_cast<std::size_t>(g.rows * g.cols), std::numeric_limits<float>::quiet_NaN());
  std::size_t row = 0;
  for (const auto& [b, c] : by_block) {
    std::copy(c.map->values.begin(), c.map->values.end(), g.values.begin() + static_cast<std::ptrdiff_t>(row * static_cast<std::size_t>(g.cols)));
    g.row_labels.push_back(block_label(h.blocks()[b]));
    ++row;
  }
  g.row_last = static_cast<double>(g.rows - 1);
  g.col_last = static_cast<double>(g.cols - 1);
  g.row_axis = "block";
  g.col_axis = maps.granularity == Granularity::Row ? "neuron" : maps.granularity == Granularity::Column ? "input" : "head";
  g.value_axis = "score";
  if (g.rows <= max_rows && g.cols <= max_cols) return g;
  // Too many for the view: reduced the way a tensor's heightfield is.
  PyramidOptions options;
  options.max_abs = reduction == PyramidReduction::MaxAbs;
  options.mean = reduction == PyramidReduction::Mean;
  auto values = std::make_shared<const std::vector<float>>(std::move(g.values));
  const TensorPyramid pyramid = TensorPyramid::of_values(values, g.rows, g.cols, ThreadPool::global(), {}, options);
  SurfaceGrid reduced = surface_of_pyramid(pyramid, max_rows, max_cols, reduction);
  if (reduced.rows == g.rows) reduced.row_labels = std::move(g.row_labels);
  reduced.row_axis = g.row_axis;
  reduced.col_axis = g.col_axis;
  reduced.value_axis = g.value_axis + (reduction == PyramidReduction::Mean ? " (mean per cell)" : " (max per cell)");
  return reduced;
}

}  // namespace paramscope::figures
