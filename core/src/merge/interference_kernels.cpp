#include "merge/interference_kernels.h"

#include <cmath>
#include <cstring>

namespace paramscope::interference_detail::kernels {
namespace {

// Sums in double over 8 floats per step in two 4-lane accumulators, as the statistics kernels do.
using v4f = float __attribute__((vector_size(16)));
using v4d = double __attribute__((vector_size(32)));

// By reference: 32-byte vectors passed by value change the ABI of the baseline clone.
inline void load(const float* p, v4d& out) noexcept {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  out = __builtin_convertvector(v, v4d);
}

inline double total(const v4d& a, const v4d& b) noexcept {
  return (a[0] + b[0]) + (a[1] + b[1]) + ((a[2] + b[2]) + (a[3] + b[3]));
}

}  // namespace

[[gnu::target_clones("avx2", "default")]] void subtract(float* __restrict t, const float* __restrict b,
                                                        std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) t[j] -= b[j];
}

[[gnu::target_clones("avx2", "default")]] void zero_nans(float* __restrict t, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) t[j] = t[j] != t[j] ? 0.0f : t[j];
}

[[gnu::target_clones("avx2", "default")]] void magnitudes(const float* __restrict t, std::size_t n,
                                                          float* __restrict out) noexcept {
  for (std::size_t j = 0; j < n; ++j) out[j] = std::fabs(t[j]);
}

[[gnu::target_clones("avx2", "default")]] void add_model_sums(const float* __restrict t,
                                                              const std::uint8_t* __restrict top, std::size_t n,
                                                              ModelSums& s) noexcept {
  v4d q0 = {}, q1 = {}, a0 = {}, a1 = {};
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    v4d l, h;
    load(t + j, l);
    load(t + j + 4, h);
    q0 += l * l;
    q1 += h * h;
    a0 += l < 0 ? -l : l;
    a1 += h < 0 ? -h : h;
  }
  double sq = total(q0, q1), abs = total(a0, a1);
  for (; j < n; ++j) {
    const auto d = static_cast<double>(t[j]);
    sq += d * d;
    abs += std::fabs(d);
  }
  std::uint32_t nonzero = 0, kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    nonzero += t[i] != 0;
    kept += top[i];
  }
  s.sq += sq;
  s.abs += abs;
  s.nonzero += nonzero;
  s.top += kept;
}

[[gnu::target_clones("avx2", "default")]] void add_pair_sums(const float* __restrict a, const float* __restrict b,
                                                             const std::uint8_t* __restrict top_a,
                                                             const std::uint8_t* __restrict top_b, std::size_t n,
                                                             PairSums& s) noexcept {
  v4d d0 = {}, d1 = {}, qa0 = {}, qa1 = {}, qb0 = {}, qb1 = {}, e0 = {}, e1 = {};
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    v4d al, ah, bl, bh;
    load(a + j, al);
    load(a + j + 4, ah);
    load(b + j, bl);
    load(b + j + 4, bh);
    d0 += al * bl;
    d1 += ah * bh;
    qa0 += al * al;
    qa1 += ah * ah;
    qb0 += bl * bl;
    qb1 += bh * bh;
    const v4d el = al - bl, eh = ah - bh;
    e0 += el * el;
    e1 += eh * eh;
  }
  double dot = total(d0, d1), sq_a = total(qa0, qa1), sq_b = total(qb0, qb1), sq_diff = total(e0, e1);
  for (; j < n; ++j) {
    const auto da = static_cast<double>(a[j]), db = static_cast<double>(b[j]);
    dot += da * db;
    sq_a += da * da;
    sq_b += db * db;
    sq_diff += (da - db) * (da - db);
  }
  std::uint32_t both = 0, opposite = 0, top_both = 0, top_either = 0, top_opposite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool nz = (a[i] != 0) & (b[i] != 0);
    const bool opp = ((a[i] > 0) & (b[i] < 0)) | ((a[i] < 0) & (b[i] > 0));
    const std::uint32_t ta = top_a[i], tb = top_b[i];
    both += nz;
    opposite += opp;
    top_both += ta & tb;
    top_either += ta | tb;
    top_opposite += ta & tb & static_cast<std::uint32_t>(opp);
  }
  s.dot += dot;
  s.sq_a += sq_a;
  s.sq_b += sq_b;
  s.sq_diff += sq_diff;
  s.both_nonzero += both;
  s.sign_conflicts += opposite;
  s.top_both += top_both;
  s.top_either += top_either;
  s.top_both_conflicts += top_opposite;
}

[[gnu::target_clones("avx2", "default")]] void count_signs(const float* __restrict t,
                                                           const std::uint8_t* __restrict top, std::size_t n,
                                                           const SignCounts& c) noexcept {
  std::uint16_t* __restrict pos = c.pos;
  std::uint16_t* __restrict neg = c.neg;
  std::uint16_t* __restrict top_pos = c.top_pos;
  std::uint16_t* __restrict top_neg = c.top_neg;
  for (std::size_t j = 0; j < n; ++j) {
    const auto p = static_cast<std::uint16_t>(t[j] > 0), m = static_cast<std::uint16_t>(t[j] < 0);
    const auto k = static_cast<std::uint16_t>(top[j]);
    pos[j] = static_cast<std::uint16_t>(pos[j] + p);
    neg[j] = static_cast<std::uint16_t>(neg[j] + m);
    top_pos[j] = static_cast<std::uint16_t>(top_pos[j] + (p & k));
    top_neg[j] = static_cast<std::uint16_t>(top_neg[j] + (m & k));
  }
}

[[gnu::target_clones("avx2", "default")]] std::int64_t top_conflicts(const float* __restrict t,
                                                                     const std::uint8_t* __restrict top, std::size_t n,
                                                                     const SignCounts& c) noexcept {
  const std::uint16_t* __restrict pos = c.pos;
  const std::uint16_t* __restrict neg = c.neg;
  std::uint32_t count = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const bool against = ((t[j] > 0) & (neg[j] != 0)) | ((t[j] < 0) & (pos[j] != 0));
    count += static_cast<std::uint32_t>(top[j]) & static_cast<std::uint32_t>(against);
  }
  return count;
}

[[gnu::target_clones("avx2", "default")]] void add_group_sums(const SignCounts& c, std::size_t n,
                                                              GroupSums& g) noexcept {
  const std::uint16_t* __restrict pos = c.pos;
  const std::uint16_t* __restrict neg = c.neg;
  const std::uint16_t* __restrict top_pos = c.top_pos;
  const std::uint16_t* __restrict top_neg = c.top_neg;
  std::uint32_t multi = 0, conflicts = 0, top_multi = 0, top_conflict = 0;
  for (std::size_t j = 0; j < n; ++j) {
    multi += pos[j] + neg[j] >= 2;
    conflicts += (pos[j] != 0) & (neg[j] != 0);
    top_multi += top_pos[j] + top_neg[j] >= 2;
    top_conflict += (top_pos[j] != 0) & (top_neg[j] != 0);
  }
  g.entries += static_cast<std::int64_t>(n);
  g.multi_nonzero += multi;
  g.sign_conflicts += conflicts;
  g.top_multi += top_multi;
  g.top_conflicts += top_conflict;
}

}  // namespace paramscope::interference_detail::kernels
