#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "paramscope/error.h"
#include "paramscope/stats.h"

namespace paramscope {
namespace {

constexpr std::int64_t kChunk = 1 << 16;  // elements per work item: a 256 KB float buffer stays in L2

}  // namespace

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
  TensorStats s;
  // Sums are taken around a shift (the first finite value) so that the variance of values far
  // from zero keeps its precision; lanes of 8 floats let the compiler vectorise without
  // reassociating float additions, and every 256 elements they are flushed to double.
  float shift = 0;
  for (std::int64_t i = 0; i < count; ++i)
    if (std::isfinite(x[i])) {
      shift = x[i];
      break;
    }
  constexpr int L = 8;
  double sum = 0, sq = 0, abs_sum = 0;
  float mn[L], mx[L];
  std::fill(mn, mn + L, std::numeric_limits<float>::infinity());
  std::fill(mx, mx + L, -std::numeric_limits<float>::infinity());
  std::int64_t nfinite = 0, nnan = 0;
  std::int64_t i = 0;
  for (; i < count;) {
    const std::int64_t end = std::min<std::int64_t>(count, i + 256);
    float ls[L] = {}, lq[L] = {}, la[L] = {};
    int lf[L] = {}, ln[L] = {};
    for (; i + L <= end; i += L)
      for (int j = 0; j < L; ++j) {
        const float v = x[i + j];
        const bool is_nan = v != v;
        const bool fin = (v - v) == 0.0f;  // false for NaN and ±Inf
        const float d = fin ? v - shift : 0.0f;
        ls[j] += d;
        lq[j] += d * d;
        la[j] += fin ? std::fabs(v) : 0.0f;
        mn[j] = fin && v < mn[j] ? v : mn[j];
        mx[j] = fin && v > mx[j] ? v : mx[j];
        lf[j] += fin;
        ln[j] += is_nan;
      }
    for (; i < end; ++i) {
      const float v = x[i];
      const bool fin = (v - v) == 0.0f;
      const float d = fin ? v - shift : 0.0f;
      ls[0] += d;
      lq[0] += d * d;
      la[0] += fin ? std::fabs(v) : 0.0f;
      if (fin) {
        mn[0] = std::min(mn[0], v);
        mx[0] = std::max(mx[0], v);
      }
      lf[0] += fin;
      ln[0] += v != v;
    }
    for (int j = 0; j < L; ++j) {
      sum += ls[j];
      sq += lq[j];
      abs_sum += la[j];
      nfinite += lf[j];
      nnan += ln[j];
    }
  }
  s.finite = nfinite;
  s.nan = nnan;
  s.inf = count - nfinite - nnan;
  if (nfinite > 0) {
    const double n = static_cast<double>(nfinite);
    const double m = sum / n;
    s.mean = static_cast<double>(shift) + m;
    s.std = std::sqrt(std::max(0.0, sq / n - m * m));
    s.abs_mean = abs_sum / n;
    s.min = *std::min_element(mn, mn + L);
    s.max = *std::max_element(mx, mx + L);
  }
  return s;
}

std::vector<TensorStats> compute_stats(const Checkpoint& checkpoint, ThreadPool& pool, const JobControl& control) {
  const auto& tensors = checkpoint.tensors();
  struct Item {
    std::size_t tensor;
    std::int64_t first, count;
  };
  std::vector<Item> items;
  std::uint64_t total = 0;
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const std::int64_t n = tensors[t].numel();
    for (std::int64_t first = 0; first < n; first += kChunk) items.push_back({t, first, std::min(kChunk, n - first)});
    total += static_cast<std::uint64_t>(n);
  }
  std::vector<TensorStats> partial(items.size());
  ProgressTracker progress(control, total);
  pool.parallel_for(items.size(), 1, [&](std::size_t begin, std::size_t end) {
    thread_local std::vector<float> buf;
    buf.resize(kChunk);
    for (std::size_t k = begin; k < end; ++k) {
      const Item& it = items[k];
      const Tensor& t = tensors[it.tensor];
      t.read_f32(it.first, std::span<float>(buf.data(), static_cast<std::size_t>(it.count)));
      t.release(it.first, it.count);
      partial[k] = stats_of(buf.data(), it.count);
      progress.advance(static_cast<std::uint64_t>(it.count));
    }
  });
  progress.finish();
  // Merged in item order, so results do not depend on thread scheduling.
  std::vector<TensorStats> out(tensors.size());
  for (std::size_t k = 0; k < items.size(); ++k) out[items[k].tensor].merge(partial[k]);
  return out;
}

}  // namespace paramscope
