#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "paramscope/error.h"
#include "jobs/chunk_stream.h"
#include "paramscope/stats.h"

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

namespace {

struct Sums {
  double sum = 0, sq = 0, abs = 0;  // sum and sq are of (x - shift)
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
};

// The hot loop, for blocks without NaN or Inf. Written with GCC vector types so that both
// clones (AVX2 and baseline x86-64, picked at load time) are SIMD; sums are in double so results
// match a float64 reference.
using v4f = float __attribute__((vector_size(16)));
using v4d = double __attribute__((vector_size(32)));

[[gnu::target_clones("avx2", "default")]] Sums sum_block(const float* x, std::int64_t n, double shift) noexcept {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const v4d sh = {shift, shift, shift, shift};
  v4d s0 = {}, s1 = {}, q0 = {}, q1 = {}, a0 = {}, a1 = {};
  v4f mn0 = {inf, inf, inf, inf}, mn1 = mn0, mx0 = -mn0, mx1 = -mn0;
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4f lo, hi;
    std::memcpy(&lo, x + i, sizeof lo);
    std::memcpy(&hi, x + i + 4, sizeof hi);
    const v4d dl = __builtin_convertvector(lo, v4d), dh = __builtin_convertvector(hi, v4d);
    a0 += dl < 0 ? -dl : dl;
    a1 += dh < 0 ? -dh : dh;
    const v4d el = dl - sh, eh = dh - sh;
    s0 += el;
    s1 += eh;
    q0 += el * el;
    q1 += eh * eh;
    mn0 = lo < mn0 ? lo : mn0;
    mn1 = hi < mn1 ? hi : mn1;
    mx0 = lo > mx0 ? lo : mx0;
    mx1 = hi > mx1 ? hi : mx1;
  }
  Sums r;
  for (int j = 0; j < 4; ++j) {
    r.sum += s0[j] + s1[j];
    r.sq += q0[j] + q1[j];
    r.abs += a0[j] + a1[j];
    r.min = std::min({r.min, mn0[j], mn1[j]});
    r.max = std::max({r.max, mx0[j], mx1[j]});
  }
  for (; i < n; ++i) {
    const float v = x[i];
    const double d = static_cast<double>(v) - shift;
    r.sum += d;
    r.sq += d * d;
    r.abs += std::fabs(static_cast<double>(v));
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
  }
  return r;
}

}  // namespace

TensorStats stats_of(const float* x, std::int64_t count) noexcept {
  // Sums are taken around a shift (the first finite value) so that the variance of values far
  // from zero keeps its precision.
  double shift = 0;
  for (std::int64_t i = 0; i < count; ++i)
    if (std::isfinite(x[i])) {
      shift = x[i];
      break;
    }
  Sums total;
  std::int64_t finite = 0, nan = 0;
  constexpr std::int64_t kBlock = 4096;
  for (std::int64_t b = 0; b < count; b += kBlock) {
    const std::int64_t n = std::min(kBlock, count - b);
    Sums s = sum_block(x + b, n, shift);
    // In double, sums of up to 4096 finite floats (squares below 1e77) cannot overflow, so a
    // non-finite sum means the block holds NaN or Inf: then go element by element.
    if (!std::isfinite(s.sum) || !std::isfinite(s.sq)) {
      s = Sums{};
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
