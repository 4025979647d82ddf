// Exact ranks of a unit held in memory: sort (key, index) pairs of one field, give each element
// its average rank, then sort the other field and add up rank products.
#include <algorithm>
#include <array>

#include "importance/compare/compare_units.h"
#include "importance/compare/rank_sums.h"
#include "importance/mask/score_key.h"
#include "paramscope/error.h"

namespace paramscope::compare {
namespace {

using mask::score_key;

/// One stable counting-sort pass of (key << 32 | index) values by 16 bits of the key.
void counting_pass(const std::vector<std::uint64_t>& in, std::vector<std::uint64_t>& out, int shift) {
  constexpr std::size_t kBuckets = 65536;
  std::vector<std::size_t> at(kBuckets + 1, 0);
  for (std::uint64_t x : in) ++at[((x >> shift) & 0xFFFF) + 1];
  for (std::size_t b = 0; b < kBuckets; ++b) at[b + 1] += at[b];
  for (std::uint64_t x : in) out[at[(x >> shift) & 0xFFFF]++] = x;
}

/// Sorts (key << 32 | index) values whose indices ascend: a stable LSD radix sort by the key
/// (low 16 bits, then high 16), so equal keys keep ascending indices and the values end up in
/// full order. Scores of 16-bit weights have no low key bits: one pass then.
void sort_pairs(std::vector<std::uint64_t>& v) {
  std::uint64_t low_bits = 0;
  for (std::uint64_t x : v) low_bits |= x;
  std::vector<std::uint64_t> tmp(v.size());
  if ((low_bits >> 32) & 0xFFFF) {
    counting_pass(v, tmp, 32);
    v.swap(tmp);
  }
  counting_pass(v, tmp, 48);
  v.swap(tmp);
}

/// Walks groups of equal keys in sorted pairs: fn(index, doubled average rank, in top-k).
/// Top-k: the k largest, ties at the boundary taken lowest index first.
template <class Fn>
u128 for_ranks(const std::vector<std::uint64_t>& sorted, std::size_t k, Fn&& fn) {
  const std::size_t n = sorted.size(), boundary = n - k;
  u128 squares = 0;
  for (std::size_t p0 = 0; p0 < n;) {
    std::size_t p1 = p0 + 1;
    while (p1 < n && (sorted[p1] >> 32) == (sorted[p0] >> 32)) ++p1;
    const std::uint64_t rank2 = 2 * p0 + (p1 - p0) + 1;
    squares += static_cast<u128>(p1 - p0) * rank2 * rank2;
    const std::size_t keep = p1 > boundary ? p1 - std::max(p0, boundary) : 0;
    for (std::size_t p = p0; p < p1; ++p) fn(static_cast<std::uint32_t>(sorted[p]), rank2, p - p0 < keep);
    p0 = p1;
  }
  return squares;
}

}  // namespace

CriteriaAgreement memory_agreement(const UnitPair& unit, double top_fraction, ThreadPool& pool,
                                   mask::StagedProgress& progress, const CompareTuning& tuning) {
  const std::int64_t total = unit.a.elements();
  if (total > (std::int64_t{1} << 29)) throw usage_error("compare: unit too large to rank in memory");
  // Unit order: (key of a << 32 | position), and b's key; b's key 0 marks a pair left out (NaN).
  std::vector<std::uint64_t> pairs(static_cast<std::size_t>(total));
  std::vector<std::uint32_t> kb(static_cast<std::size_t>(total));
  const ChunkPlan plan(unit.a, tuning.chunk);
  {
    const JobControl jc = progress.pass(plan.elements());
    stream_pairs(unit, plan, nullptr, pool, jc, [&](const Chunk& ch, std::span<const float> bv) {
      const auto o = static_cast<std::size_t>(unit.a.offset(ch.array) + ch.first);
      for (std::size_t j = 0; j < bv.size(); ++j) {
        const std::uint32_t ka = score_key(ch.values[j]), kbj = score_key(bv[j]);
        pairs[o + j] = static_cast<std::uint64_t>(ka) << 32;
        kb[o + j] = ka != 0 ? kbj : 0;
      }
    });
  }
  std::size_t n = 0;
  for (std::size_t p = 0; p < kb.size(); ++p)
    if (kb[p] != 0) {
      pairs[n] = pairs[p] | n;
      kb[n] = kb[p];
      ++n;
    }
  pairs.resize(n);
  kb.resize(n);
  progress.throw_if_cancelled();

  const auto k = static_cast<std::size_t>(mask::fraction_count(top_fraction, static_cast<std::int64_t>(n)));
  RankSums sums;
  sums.n = n;
  // a: doubled rank (< 2^31 for n <= 2^29) and top-k membership in the high bit, by position.
  sort_pairs(pairs);
  std::vector<std::uint32_t> rank_a(n);
  sums.rr = for_ranks(pairs, k, [&](std::uint32_t i, std::uint64_t r, bool top) {
    rank_a[i] = static_cast<std::uint32_t>(r) | (top ? 0x80000000u : 0u);
  });
  progress.throw_if_cancelled();
  for (std::size_t i = 0; i < n; ++i) pairs[i] = static_cast<std::uint64_t>(kb[i]) << 32 | i;
  std::vector<std::uint32_t>().swap(kb);
  sort_pairs(pairs);
  std::uint64_t both = 0;
  sums.ss = for_ranks(pairs, k, [&](std::uint32_t i, std::uint64_t s, bool top) {
    sums.rs += static_cast<u128>(rank_a[i] & 0x7FFFFFFFu) * s;
    both += top && (rank_a[i] >> 31);
  });
  CriteriaAgreement r;
  r.elements = static_cast<std::int64_t>(n);
  r.spearman = spearman(sums);
  r.topk_jaccard = jaccard(both, k);
  return r;
}

}  // namespace paramscope::compare
