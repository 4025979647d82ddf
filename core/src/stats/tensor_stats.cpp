#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "jobs/chunk_stream.h"
#include "paramscope/error.h"
#include "paramscope/stats.h"
#include "stats/block_sums.h"

namespace paramscope {
void TensorStats::merge(const TensorStats& o) noexcept {
  nan += o.nan;
  inf += o.inf;
  if (o.finite == 0) return;
  if (finite == 0) {
    const auto n = nan, i = inf;
    *this = o;
    nan = n;
    inf = i;
    return;
  }
  const double na = static_cast<double>(finite), nb = static_cast<double>(o.finite), n = na + nb;
  const double delta = o.mean - mean;
  const double m2 = std * std * na + o.std * o.std * nb + delta * delta * na * nb / n;
  mean += delta * nb / n;
  std = std::sqrt(std::max(0.0, m2 / n));
  abs_mean = (abs_mean * na + o.abs_mean * nb) / n;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  finite += o.finite;
}

TensorStats stats_of(const float* x, std::int64_t count) noexcept {
  // Sums are taken around a shift (the first finite value) so that the variance of values far
  // from zero keeps its precision.
  double shift = 0;
  for (std::int64_t i = 0; i < count; ++i)
    if (std::isfinite(x[i])) {
      shift = x[i];
      break;
    }
  BlockSums total;
  std::int64_t finite = 0, nan = 0;
  constexpr std::int64_t kBlock = 4096;
  for (std::int64_t b = 0; b < count; b += kBlock) {
    const std::int64_t n = std::min(kBlock, count - b);
    BlockSums s = sum_block(x + b, n, shift);
    // In double, sums of up to 4096 finite floats (squares below 1e77) cannot overflow, so a
    // non-finite sum means the block holds NaN or Inf: then go element by element.
    if (!std::isfinite(s.sum) || !std::isfinite(s.sq)) {
      s = BlockSums{};
      std::int64_t fin = 0;
      for (std::int64_t i = b; i < b + n; ++i) {
        const float v = x[i];
        if (std::isnan(v)) {
          ++nan;
          continue;
        }
        if (std::isinf(v)) continue;
        const double d = static_cast<double>(v) - shift;
        s.sum += d;
        s.sq += d * d;
        s.abs += std::fabs(static_cast<double>(v));
        s.min = std::min(s.min, v);
        s.max = std::max(s.max, v);
        ++fin;
      }
      finite += fin;
    } else {
      finite += n;
    }
    total.sum += s.sum;
    total.sq += s.sq;
    total.abs += s.abs;
    total.min = std::min(total.min, s.min);
    total.max = std::max(total.max, s.max);
  }
  TensorStats r;
  r.finite = finite;
  r.nan = nan;
  r.inf = count - finite - nan;
  if (finite > 0) {
    const double n = static_cast<double>(finite);
    const double m = total.sum / n;
    r.mean = shift + m;
    r.std = std::sqrt(std::max(0.0, total.sq / n - m * m));
    r.abs_mean = total.abs / n;
    r.min = total.min;
    r.max = total.max;
  }
  return r;
}

std::vector<TensorStats> compute_stats(const Checkpoint& checkpoint, ThreadPool& pool, const JobControl& control) {
  std::vector<const Tensor*> tensors;
  for (const auto& t : checkpoint.tensors()) tensors.push_back(&t);
  const TensorChunks reader(tensors);
  const ChunkPlan plan(reader);
  std::vector<TensorStats> partial(plan.size());
  stream_chunks(reader, plan, pool, control, [&](const Chunk& c) {
    partial[c.index] = stats_of(c.values.data(), static_cast<std::int64_t>(c.values.size()));
  });
  // Merged in chunk order, so results do not depend on thread scheduling.
  std::vector<TensorStats> out(tensors.size());
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const auto [b, e] = plan.chunks_of(t);
    for (std::size_t k = b; k < e; ++k) out[t].merge(partial[k]);
  }
  return out;
}

}  // namespace paramscope
