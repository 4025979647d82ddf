#include "importance/mask/topk_select.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>

#include "importance/mask/mask_kernels.h"
#include "paramscope/error.h"

namespace paramscope::mask {
namespace {

constexpr std::size_t kBins = 65536;
using Histogram = std::vector<std::uint64_t>;
using PerThreadHistogram = tbb::enumerable_thread_specific<Histogram>;

/// Sums per-thread histograms of `copies` interleaved kBins-sized parts.
Histogram merged(const PerThreadHistogram& parts, std::size_t copies = 1) {
  Histogram h(kBins, 0);
  for (const Histogram& p : parts)
    for (std::size_t i = 0; i < copies * kBins; ++i) h[i % kBins] += p[i];
  return h;
}

/// The bin that holds the k-th largest entry (1-based k <= total), and how many lie above it.
std::pair<std::uint32_t, std::uint64_t> bin_of_kth(const Histogram& h, std::uint64_t k) {
  std::uint64_t above = 0;
  for (std::size_t b = kBins; b-- > 0;) {
    if (above + h[b] >= k) return {static_cast<std::uint32_t>(b), above};
    above += h[b];
  }
  throw usage_error("top-k: k exceeds the number of elements");  // unreachable: callers clamp k
}

/// The result for the k-th key t (kk kept, in_t elements equal to t, above_t above it).
TopkResult finish(TopkResult r, std::uint64_t kk, std::uint32_t t, std::uint64_t in_t, std::uint64_t above_t) {
  const std::uint64_t needed = kk - above_t;  // ties to keep, >= 1
  r.kept = static_cast<std::int64_t>(kk);
  r.ties_kept = static_cast<std::int64_t>(needed);
  r.threshold = key_score(t);
  r.cut = {t, std::numeric_limits<std::int64_t>::max(), nullptr};
  if (needed < in_t) {
    r.cut.last_tie = -1;
    r.cut.ties =
        std::make_shared<TieBudget>(TieBudget{static_cast<std::int64_t>(needed), static_cast<std::int64_t>(needed)});
  }
  return r;
}

/// Counts of every stored code per distinct table, when every range of the unit is coded (see
/// ScoreField::coded): one pass over the 16-bit codes, no score computed. Empty otherwise.
struct CodeCounts {
  std::vector<const std::vector<float>*> tables;
  std::vector<Histogram> counts;  ///< per table, 65536 codes
};

std::optional<CodeCounts> count_codes(const RangeReader& reader, const ChunkPlan& plan, ThreadPool& pool,
                                      const JobControl& control) {
  const ScoreField& field = reader.field();
  std::vector<ScoreField::Coded> coded;
  std::vector<std::size_t> table_of;
  CodeCounts cc;
  for (std::size_t r = 0; r < reader.count(); ++r) {
    auto c = field.coded(reader.range(r).tensor);
    if (!c) return std::nullopt;
    const auto at = std::find(cc.tables.begin(), cc.tables.end(), c->table);
    table_of.push_back(static_cast<std::size_t>(at - cc.tables.begin()));
    if (at == cc.tables.end()) cc.tables.push_back(c->table);
    coded.push_back(*c);
  }
  const std::size_t nt = cc.tables.size();
  // Two interleaved histograms per table, so that runs of one code do not wait on their own
  // increments.
  tbb::enumerable_thread_specific<Histogram> parts([nt] { return Histogram(2 * kBins * nt, 0); });
  for_each_chunk(reader, plan, pool, control, [&](std::size_t k) {
    const auto& it = plan.item(k);
    const UnitRange& range = reader.range(it.array);
    const std::uint16_t* codes = coded[it.array].codes.data() + range.first + it.first;
    Histogram& h = parts.local();
    std::uint64_t* h0 = h.data() + 2 * kBins * table_of[it.array];
    std::uint64_t* h1 = h0 + kBins;
    const auto count = static_cast<std::size_t>(it.count), even = count - count % 2;
    for (std::size_t j = 0; j < even; j += 2) {
      ++h0[codes[j]];
      ++h1[codes[j + 1]];
    }
    if (even < count) ++h0[codes[even]];
  });
  cc.counts.assign(nt, Histogram(kBins, 0));
  for (const Histogram& p : parts)
    for (std::size_t t = 0; t < nt; ++t)
      for (std::size_t c = 0; c < kBins; ++c) cc.counts[t][c] += p[2 * kBins * t + c] + p[2 * kBins * t + kBins + c];
  return cc;
}

/// Calls fn(key, count) for every code that occurs.
template <class Fn>
void for_each_key(const CodeCounts& cc, Fn&& fn) {
  for (std::size_t t = 0; t < cc.tables.size(); ++t)
    for (std::size_t c = 0; c < kBins; ++c)
      if (cc.counts[t][c]) fn(score_key((*cc.tables[t])[c]), cc.counts[t][c]);
}

}  // namespace

TopkResult select_topk_streamed(const RangeReader& reader, std::int64_t chunk_elems, std::int64_t k, ThreadPool& pool,
                                StagedProgress& progress) {
  // Runs are counted in 32 bits.
  if (chunk_elems <= 0 || chunk_elems > (std::int64_t{1} << 30)) throw usage_error("top-k: bad chunk size");
  const ChunkPlan plan(reader, chunk_elems);
  const std::uint64_t n = plan.elements();
  TopkResult r;
  if (k <= 0 || n == 0) return r;

  // Scores that are a table of 16-bit stored values: the codes' counts give both levels of the
  // histogram at once.
  std::optional<CodeCounts> cc;
  {
    const JobControl jc = progress.pass(n);
    cc = count_codes(reader, plan, pool, jc);
    if (!cc) progress.rewind(n);
  }
  if (cc) {
    Histogram high(kBins, 0);
    for_each_key(*cc, [&](std::uint32_t key, std::uint64_t count) { high[key >> 16] += count; });
    const std::uint64_t numbers = n - high[0];
    progress.skip(n);
    if (numbers == 0) return r;
    const std::uint64_t kk = std::min(static_cast<std::uint64_t>(k), numbers);
    const auto [b, above_b] = bin_of_kth(high, kk);
    Histogram low(kBins, 0);
    for_each_key(*cc, [&, b = b](std::uint32_t key, std::uint64_t count) {
      if ((key >> 16) == b) low[key & 0xFFFFu] += count;
    });
    const auto [l, above_l] = bin_of_kth(low, kk - above_b);
    return finish(r, kk, (b << 16) | l, low[l], above_b + above_l);
  }

  // Pass 1: histogram of the high 16 bits, and the AND and OR of the numbers' keys, apart for
  // negative and other numbers (to see whether the keys of a sign all share their low bits; a
  // bf16's negative key ends in 0xFFFF, its positive key in 0). NaN lands in bin 0, which no
  // number's key reaches.
  Histogram high;
  std::uint32_t low_and[2] = {0xFFFFFFFFu, 0xFFFFFFFFu}, low_or[2] = {0, 0};  // [0]: negative
  {
    struct Part {
      Histogram h = Histogram(2 * kBins, 0);
      kernels::KeyBits bits;
    };
    tbb::enumerable_thread_specific<Part> parts;
    const JobControl jc = progress.pass(n);
    stream_chunks(reader, plan, pool, jc, [&](const Chunk& ch) {
      // Keys, then the sign-split AND/OR in plain bit operations (both loops vectorise), then
      // the scatter into two interleaved histograms so that runs of one bin do not wait on
      // their own increments.
      thread_local std::vector<std::uint32_t> keys;
      const std::size_t count = ch.values.size();
      keys.resize(count);
      std::uint32_t* kv = keys.data();
      Part& p = parts.local();
      kernels::keys_of(ch.values.data(), count, kv, p.bits);
      std::uint64_t* h0 = p.h.data();
      std::uint64_t* h1 = p.h.data() + kBins;
      const std::size_t even = count - count % 2;
      for (std::size_t j = 0; j < even; j += 2) {
        ++h0[kv[j] >> 16];
        ++h1[kv[j + 1] >> 16];
      }
      if (even < count) ++h0[kv[even] >> 16];
    });
    high.assign(kBins, 0);
    for (const Part& p : parts) {
      for (std::size_t i = 0; i < 2 * kBins; ++i) high[i % kBins] += p.h[i];
      for (int sgn = 0; sgn < 2; ++sgn) {
        low_and[sgn] &= p.bits.all[sgn];
        low_or[sgn] |= p.bits.any[sgn];
      }
    }
  }
  const std::uint64_t numbers = n - high[0];
  if (numbers == 0) {
    progress.skip(n);
    return r;
  }
  const std::uint64_t kk = std::min(static_cast<std::uint64_t>(k), numbers);
  const auto [b, above_b] = bin_of_kth(high, kk);

  std::uint32_t t = 0;
  std::uint64_t in_t = 0, above_t = above_b;  // elements equal to t, and above it
  const int sgn = static_cast<int>(b >> 15);
  if ((low_and[sgn] & 0xFFFFu) == (low_or[sgn] & 0xFFFFu)) {
    // Every key of b's sign ends in the same 16 bits: bin b is the single key t.
    t = (b << 16) | (low_and[sgn] & 0xFFFFu);
    in_t = high[b];
    progress.skip(n);
  } else {
    // Pass 2: histogram of the low 16 bits inside bin b.
    PerThreadHistogram parts([] { return Histogram(kBins, 0); });
    const JobControl jc = progress.pass(n);
    stream_chunks(reader, plan, pool, jc, [&, b = b](const Chunk& ch) {
      // Keys in one vectorised loop; bin b's low bits compacted without branches (the boundary
      // bin is usually a popular one, present in most chunks).
      thread_local std::vector<std::uint32_t> keys;
      const std::size_t count = ch.values.size();
      keys.resize(count + 1);
      std::uint32_t in_b = 0;
      for (std::size_t j = 0; j < count; ++j) {
        keys[j] = score_key(ch.values[j]);
        in_b += (keys[j] >> 16) == b;
      }
      if (!in_b) return;
      std::size_t m = 0;
      for (std::size_t j = 0; j < count; ++j) {
        const std::uint32_t key = keys[j];
        keys[m] = key & 0xFFFFu;  // m <= j: overwrites only keys already read
        m += (key >> 16) == b;
      }
      // Runs of one value add up in a register instead of a chain of increments to one slot.
      Histogram& h = parts.local();
      std::uint32_t run_key = m ? keys[0] : 0, run = 0;
      for (std::size_t j = 0; j < m; ++j) {
        if (keys[j] != run_key) {
          h[run_key] += run;
          run_key = keys[j];
          run = 0;
        }
        ++run;
      }
      h[run_key] += run;
    });
    const Histogram low = merged(parts);
    const auto [l, above_l] = bin_of_kth(low, kk - above_b);
    t = (b << 16) | l;
    in_t = low[l];
    above_t += above_l;
  }
  return finish(r, kk, t, in_t, above_t);
}

TopkResult select_topk_memory(std::span<const float> v, std::int64_t k, std::vector<std::uint32_t>& scratch) {
  TopkResult r;
  scratch.clear();
  for (float x : v)
    if (const std::uint32_t key = score_key(x)) scratch.push_back(key);
  if (k <= 0 || scratch.empty()) return r;
  const std::size_t kk = std::min(static_cast<std::size_t>(k), scratch.size());
  const auto kth = scratch.begin() + static_cast<std::ptrdiff_t>(kk - 1);
  std::nth_element(scratch.begin(), kth, scratch.end(), std::greater<>());
  const std::uint32_t t = *kth;
  // Everything before the k-th is >= t, everything after is <= t.
  const auto above =
      static_cast<std::size_t>(std::count_if(scratch.begin(), kth, [t](std::uint32_t x) { return x > t; }));
  const std::size_t needed = kk - above;
  std::size_t seen = 0;
  for (std::size_t j = 0; j < v.size(); ++j)
    if (score_key(v[j]) == t && ++seen == needed) {
      r.cut = {t, static_cast<std::int64_t>(j), nullptr};
      break;
    }
  r.kept = static_cast<std::int64_t>(kk);
  r.ties_kept = static_cast<std::int64_t>(needed);
  r.threshold = key_score(t);
  return r;
}

}  // namespace paramscope::mask
