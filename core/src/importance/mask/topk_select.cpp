#include "importance/mask/topk_select.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <functional>
#include <limits>

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

}  // namespace

TopkResult select_topk_streamed(const RangeReader& reader, std::int64_t chunk_elems, std::int64_t k,
                                bool per_range_counts, ThreadPool& pool, StagedProgress& progress) {
  // Per-chunk counters are 32-bit.
  if (chunk_elems <= 0 || chunk_elems > (std::int64_t{1} << 30)) throw usage_error("top-k: bad chunk size");
  const ChunkPlan plan(reader, chunk_elems);
  const std::size_t chunks = plan.size();
  const std::uint64_t n = plan.elements();
  TopkResult r;
  if (per_range_counts) r.kept_per_range.assign(reader.count(), 0);
  if (k <= 0 || n == 0) return r;

  // Pass 1: histogram of the high 16 bits. NaN lands in bin 0, which no number's key reaches.
  Histogram high;
  {
    PerThreadHistogram parts([] { return Histogram(2 * kBins, 0); });
    const JobControl jc = progress.pass(n);
    stream_chunks(reader, plan, pool, jc, [&](const Chunk& ch) {
      // Keys first in a loop that vectorises, then the scatter; two interleaved histograms
      // so that runs of one bin do not wait on their own increments.
      thread_local std::vector<std::uint16_t> high_bits;
      high_bits.resize(ch.values.size());
      for (std::size_t j = 0; j < ch.values.size(); ++j)
        high_bits[j] = static_cast<std::uint16_t>(score_key(ch.values[j]) >> 16);
      Histogram& h = parts.local();
      std::uint64_t* h0 = h.data();
      std::uint64_t* h1 = h.data() + kBins;
      const std::size_t count = high_bits.size(), even = count - count % 2;
      for (std::size_t j = 0; j < even; j += 2) {
        ++h0[high_bits[j]];
        ++h1[high_bits[j + 1]];
      }
      if (even < count) ++h0[high_bits[even]];
    });
    high = merged(parts, 2);
  }
  const std::uint64_t numbers = n - high[0];
  if (numbers == 0) return r;
  const std::uint64_t kk = std::min(static_cast<std::uint64_t>(k), numbers);
  const auto [b, above_b] = bin_of_kth(high, kk);

  // Pass 2: inside bin b, histogram of the low 16 bits; per chunk, how many lie above b and in b.
  Histogram low;
  std::vector<std::uint32_t> above_c(chunks), in_b_c(chunks);
  {
    PerThreadHistogram parts([] { return Histogram(kBins, 0); });
    const JobControl jc = progress.pass(n);
    stream_chunks(reader, plan, pool, jc, [&, b = b](const Chunk& ch) {
      // Keys in one vectorised loop, counts in another; bin b's low bits compacted without
      // branches (the boundary bin is usually a popular one, present in most chunks).
      thread_local std::vector<std::uint32_t> keys;
      const std::size_t count = ch.values.size();
      keys.resize(count + 1);
      for (std::size_t j = 0; j < count; ++j) keys[j] = score_key(ch.values[j]);
      std::uint32_t above = 0, in_b = 0;
      for (std::size_t j = 0; j < count; ++j) {
        above += (keys[j] >> 16) > b;
        in_b += (keys[j] >> 16) == b;
      }
      if (in_b) {
        std::size_t m = 0;
        for (std::size_t j = 0; j < count; ++j) {
          const std::uint32_t key = keys[j];
          keys[m] = key & 0xFFFFu;  // m <= j: overwrites only keys already read
          m += (key >> 16) == b;
        }
        // Runs of one value (all of them when scores come from 16-bit weights) add up in a
        // register instead of a chain of increments to one slot.
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
      }
      above_c[ch.index] = above;
      in_b_c[ch.index] = in_b;
    });
    low = merged(parts);
  }
  const auto [l, above_l] = bin_of_kth(low, kk - above_b);
  const std::uint32_t t = (b << 16) | l;
  const std::uint64_t needed = kk - above_b - above_l;  // ties to keep, >= 1
  const bool partial = needed < low[l];
  r.kept = static_cast<std::int64_t>(kk);
  r.ties_kept = static_cast<std::int64_t>(needed);
  r.threshold = key_score(t);
  r.cut = {t, std::numeric_limits<std::int64_t>::max()};

  // Per chunk: elements of bin b above t, and equal to t.
  std::vector<std::uint32_t> gt_c, tie_c;
  const bool single_key = std::count_if(low.begin(), low.end(), [](std::uint64_t c) { return c != 0; }) == 1;
  if (single_key) {
    gt_c.assign(chunks, 0);
    tie_c = in_b_c;
  } else if (partial || per_range_counts) {
    // Pass 3, over the chunks that touch bin b only.
    gt_c.assign(chunks, 0);
    tie_c.assign(chunks, 0);
    std::vector<std::size_t> list;
    std::uint64_t elems = 0;
    for (std::size_t c = 0; c < chunks; ++c)
      if (in_b_c[c]) {
        list.push_back(c);
        elems += static_cast<std::uint64_t>(plan.item(c).count);
      }
    const JobControl jc = progress.pass(elems);
    stream_chunk_list(reader, plan, list, pool, jc, [&, b = b](const Chunk& ch) {
      std::uint32_t gt = 0, tie = 0;
      for (float x : ch.values) {
        const std::uint32_t key = score_key(x);
        gt += key > t && (key >> 16) == b;
        tie += key == t;
      }
      gt_c[ch.index] = gt;
      tie_c[ch.index] = tie;
    });
  }

  // Only some ties kept: the last kept one is in the chunk where the running tie count reaches
  // `needed`; scan that chunk for it.
  std::size_t cut_chunk = chunks;
  std::uint64_t cut_rank = 0;
  if (partial) {
    std::uint64_t cum = 0;
    for (std::size_t c = 0; c < chunks; ++c) {
      if (cum + tie_c[c] >= needed) {
        cut_chunk = c;
        cut_rank = needed - cum;
        break;
      }
      cum += tie_c[c];
    }
    const auto& it = plan.item(cut_chunk);
    std::vector<float> v(static_cast<std::size_t>(it.count));
    reader.read(it.array, it.first, v);
    std::uint64_t seen = 0;
    for (std::size_t j = 0; j < v.size(); ++j)
      if (score_key(v[j]) == t && ++seen == cut_rank) {
        r.cut.last_tie = reader.offset(it.array) + it.first + static_cast<std::int64_t>(j);
        break;
      }
    if (seen != cut_rank) throw usage_error("top-k: scores changed between passes");
  }

  if (per_range_counts)
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::uint64_t ties = !partial || c < cut_chunk ? tie_c[c] : c == cut_chunk ? cut_rank : 0;
      r.kept_per_range[plan.item(c).array] += static_cast<std::int64_t>(above_c[c] + gt_c[c] + ties);
    }
  return r;
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
      r.cut = {t, static_cast<std::int64_t>(j)};
      break;
    }
  r.kept = static_cast<std::int64_t>(kk);
  r.ties_kept = static_cast<std::int64_t>(needed);
  r.threshold = key_score(t);
  return r;
}

}  // namespace paramscope::mask
