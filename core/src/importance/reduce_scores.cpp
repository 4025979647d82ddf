// Reduction of element scores to rows, columns, heads, tensors and blocks, streamed.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "importance/group_layout.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "stats/block_sums.h"

namespace paramscope {
namespace {

struct Acc {
  double sum = 0, sumsq = 0;
  float max = -std::numeric_limits<float>::infinity();
  std::int64_t count = 0;
  void add(float v) {
    if (std::isnan(v)) return;
    sum += v;
    sumsq += static_cast<double>(v) * v;
    max = std::max(max, v);
    ++count;
  }
  void merge(const Acc& o) {
    sum += o.sum;
    sumsq += o.sumsq;
    max = std::max(max, o.max);
    count += o.count;
  }
  double value(Reduction r) const { return summary({}).value(r); }
  ScoreSummary summary(std::string name) const {
    ScoreSummary s{std::move(name), {}, {}, count, sum, std::nan(""), std::nan(""), std::sqrt(sumsq)};
    if (count) {
      s.mean = sum / static_cast<double>(count);
      s.max = max;
    }
    return s;
  }
};

/// Adds values to an accumulator: blocks at SIMD speed, element by element only in blocks
/// that hold a NaN (their sum is NaN; scores are never infinite).
void accumulate(std::span<const float> v, Acc& acc) {
  constexpr std::size_t kBlock = 4096;
  for (std::size_t b = 0; b < v.size(); b += kBlock) {
    const auto block = v.subspan(b, std::min(kBlock, v.size() - b));
    const ScoreSums s = sum_scores(block.data(), static_cast<std::int64_t>(block.size()));
    if (!std::isfinite(s.sum) || !std::isfinite(s.sq)) {
      for (float x : block) acc.add(x);
      continue;
    }
    acc.sum += s.sum;
    acc.sumsq += s.sq;
    acc.max = std::max(acc.max, s.max);
    acc.count += static_cast<std::int64_t>(block.size());
  }
}

/// Adds the elements [first, first + v.size()) of a tensor to their groups and to the total.
/// groups[j] holds group group0 + j.
void accumulate_groups(const GroupLayout& layout, std::int64_t first, std::span<const float> v,
                       std::vector<Acc>& groups, std::int64_t group0, Acc& total) {
  const auto n = static_cast<std::int64_t>(v.size());
  if (layout.axis == GroupLayout::Axis::Rows) {
    // Groups are runs of row_len * per_group elements: whole segments at a time.
    const std::int64_t run = layout.row_len * layout.per_group;
    for (std::int64_t p = 0; p < n;) {
      const std::int64_t g = (first + p) / run, len = std::min(n - p, (g + 1) * run - (first + p));
      Acc part;
      accumulate(v.subspan(static_cast<std::size_t>(p), static_cast<std::size_t>(len)), part);
      groups[static_cast<std::size_t>(g - group0)].merge(part);
      total.merge(part);
      p += len;
    }
    return;
  }
  // Columns: step through (column, inner) counters instead of dividing per element.
  std::int64_t inner = first % layout.inner, col = (first / layout.inner) % layout.columns;
  for (std::int64_t p = 0; p < n; ++p) {
    const float x = v[static_cast<std::size_t>(p)];
    groups[static_cast<std::size_t>(col / layout.per_group - group0)].add(x);
    total.add(x);
    if (++inner == layout.inner) {
      inner = 0;
      if (++col == layout.columns) col = 0;
    }
  }
}

// A tensor is split into parts independent of the thread count, so that the order in which
// partial sums are added, and hence the result, never depends on scheduling.
constexpr std::int64_t kPartElems = 1 << 22;
constexpr std::int64_t kChunk = 1 << 14;

}  // namespace

double ScoreSummary::value(Reduction r) const noexcept {
  switch (r) {
    case Reduction::Sum:
      return sum;
    case Reduction::Mean:
      return mean;
    case Reduction::Max:
      return max;
    case Reduction::L2:
      return l2;
  }
  return sum;
}

ReducedMaps reduce_scores(const ScoreField& field, Granularity granularity, Reduction reduction,
                          const HeadConfig& heads, ThreadPool& pool, const JobControl& control) {
  ReducedMaps out{granularity, reduction, {}, {}, {}, {}};
  const auto& tensors = field.tensors();

  struct Part {
    std::size_t tensor;
    std::int64_t first, count;
  };
  std::vector<std::optional<GroupLayout>> layouts(tensors.size());
  std::vector<Part> parts;
  std::vector<std::size_t> first_part(tensors.size() + 1, 0);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    std::string why;
    layouts[i] = group_layout(tensors[i], granularity, heads, why);
    if (!layouts[i]) out.skipped.emplace_back(tensors[i].name, why);
    first_part[i] = parts.size();
    for (std::int64_t a = 0; a < tensors[i].numel; a += kPartElems)
      parts.push_back({i, a, std::min(kPartElems, tensors[i].numel - a)});
  }
  first_part[tensors.size()] = parts.size();
  if (granularity == Granularity::Head && !out.skipped.empty() && out.skipped.size() == tensors.size())
    throw usage_error("head granularity: no tensor splits into heads (" + out.skipped.front().second + ")");

  // Each part: one accumulator per group of its tensor (groups: 1 when the tensor is skipped, so
  // it still counts in its block), plus the tensor-level accumulator.
  // A part holds only the groups it touches: a few rows of a large matrix, so that memory does
  // not grow with the model (all columns for column groups).
  std::vector<std::vector<Acc>> part_groups(parts.size());
  std::vector<std::int64_t> part_group0(parts.size(), 0);
  std::vector<Acc> part_total(parts.size());
  ProgressTracker progress(control, field.elements());
  pool.parallel_for(parts.size(), 1, [&](std::size_t begin, std::size_t end) {
    std::vector<float> buf(kChunk);
    for (std::size_t k = begin; k < end; ++k) {
      const Part& p = parts[k];
      const auto& layout = layouts[p.tensor];
      const bool grouped = layout && layout->axis != GroupLayout::Axis::All && granularity != Granularity::Element;
      auto& groups = part_groups[k];
      std::int64_t& group0 = part_group0[k];
      if (grouped) {
        std::int64_t last = layout->groups - 1;
        if (layout->axis == GroupLayout::Axis::Rows) {
          group0 = layout->group_of(p.first);
          last = layout->group_of(p.first + p.count - 1);
        }
        groups.assign(static_cast<std::size_t>(last - group0 + 1), Acc{});
      }
      Acc& total = part_total[k];
      for (std::int64_t a = p.first; a < p.first + p.count; a += kChunk) {
        const auto n = static_cast<std::size_t>(std::min(kChunk, p.first + p.count - a));
        field.scores(p.tensor, a, std::span<float>(buf.data(), n));
        const std::span<const float> chunk(buf.data(), n);
        if (grouped) {
          accumulate_groups(*layout, a, chunk, groups, group0, total);
        } else {
          accumulate(chunk, total);
        }
        progress.advance(n);
      }
      // Released per part, not per chunk: each release is a madvise whose TLB shootdown
      // interrupts every thread, and a part's pages (8-16 MB per thread) are a small peak.
      field.release(p.tensor, p.first, p.count);
    }
  });
  progress.finish();

  std::vector<std::pair<std::size_t, std::string>> block_order;  // (rank, name): model order
  std::map<std::string, Acc> blocks;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    Acc total;
    std::vector<Acc> groups;
    if (first_part[i] < first_part[i + 1] && !part_groups[first_part[i]].empty())
      groups.resize(static_cast<std::size_t>(layouts[i]->groups));
    for (std::size_t k = first_part[i]; k < first_part[i + 1]; ++k) {
      total.merge(part_total[k]);
      for (std::size_t j = 0; j < part_groups[k].size(); ++j)
        groups[static_cast<std::size_t>(part_group0[k]) + j].merge(part_groups[k][j]);
      std::vector<Acc>().swap(part_groups[k]);
    }
    const std::string& b = tensors[i].place.block;
    if (!blocks.count(b)) block_order.emplace_back(tensors[i].block_rank, b);
    blocks[b].merge(total);
    out.tensors.push_back(total.summary(tensors[i].name));
    out.tensors.back().block = b;
    out.tensors.back().kind = module_kind_name(tensors[i].place.kind);
    if (!layouts[i] || granularity == Granularity::Element || granularity == Granularity::Block) continue;
    ReducedMaps::Map m{i, tensors[i].name, layouts[i]->map_shape, {}, {}, {}};
    if (granularity == Granularity::Tensor) {
      m.values = {static_cast<float>(total.value(reduction))};
    } else {
      m.values.resize(groups.size());
      for (std::size_t g = 0; g < groups.size(); ++g) m.values[g] = static_cast<float>(groups[g].value(reduction));
    }
    out.maps.push_back(std::move(m));
  }
  std::stable_sort(block_order.begin(), block_order.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [rank, b] : block_order) out.blocks.push_back(blocks[b].summary(b));
  return out;
}

}  // namespace paramscope
