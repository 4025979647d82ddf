#include "merge/interference_topk.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <cmath>

#include "importance/mask/mask_kernels.h"
#include "importance/mask/score_key.h"
#include "merge/merge_kernel.h"
#include "paramscope/error.h"

namespace paramscope::interference_detail {
namespace {

constexpr std::size_t kBins = 65536;
using Histogram = std::vector<std::uint64_t>;  // models x kBins

// The bin holding the k-th largest (1-based) of h, and how many lie above it.
std::pair<std::uint32_t, std::uint64_t> kth_largest(const std::uint64_t* h, std::uint64_t k) {
  std::uint64_t above = 0;
  for (std::size_t b = kBins; b-- > 0;) {
    if (above + h[b] >= k) return {static_cast<std::uint32_t>(b), above};
    above += h[b];
  }
  throw usage_error("interference: top-k beyond the tensor");  // unreachable: k is clamped
}

// The bin holding the k-th smallest (1-based) of h, and how many lie below it.
std::pair<std::uint32_t, std::uint64_t> kth_smallest(const std::uint64_t* h, std::uint64_t k) {
  std::uint64_t below = 0;
  for (std::size_t b = 0; b < kBins; ++b) {
    if (below + h[b] >= k) return {static_cast<std::uint32_t>(b), below};
    below += h[b];
  }
  throw usage_error("interference: tie rank beyond the ties");  // unreachable
}

// One streamed pass over the tensor for the models in `want`: visit(i, keys, first, n, local)
// per chunk and model, with the keys of the model's rank values and this thread's state.
// Unplanned passes do not move the progress (they still notice a cancel).
template <class Local, class Visit>
void pass(std::size_t models, std::int64_t numel, std::int64_t chunk, const std::vector<char>& want,
          const ChunkRanks& ranks, ThreadPool& pool, ProgressTracker& tracker,
          tbb::enumerable_thread_specific<Local>& locals, const Visit& visit, bool planned = true) {
  const auto chunks = static_cast<std::size_t>((numel + chunk - 1) / chunk);
  pool.parallel_for(chunks, 1, [&](std::size_t cb, std::size_t ce) {
    const auto len = static_cast<std::size_t>(chunk);
    std::vector<float> buf(len * models), scratch;
    std::vector<std::uint32_t> keys(len);
    std::vector<float*> out(models);
    for (std::size_t i = 0; i < models; ++i) out[i] = buf.data() + len * i;
    for (std::size_t c = cb; c < ce; ++c) {
      const std::int64_t first = static_cast<std::int64_t>(c) * chunk;
      const std::int64_t n = std::min(chunk, numel - first);
      const auto m = static_cast<std::size_t>(n);
      ranks(first, n, want, out.data(), scratch);
      Local& local = locals.local();
      for (std::size_t i = 0; i < models; ++i) {
        if (!want[i]) continue;
        mask::kernels::KeyBits bits;
        mask::kernels::keys_of(out[i], m, keys.data(), bits);
        visit(i, keys.data(), first, m, local);
      }
      tracker.advance(planned ? static_cast<std::uint64_t>(n) : 0);
    }
  });
}

Histogram merged(const tbb::enumerable_thread_specific<Histogram>& parts, std::size_t models) {
  Histogram h(models * kBins, 0);
  for (const Histogram& p : parts)
    for (std::size_t b = 0; b < h.size(); ++b) h[b] += p[b];
  return h;
}

// The exact last tie kept of each model in `missed` by a histogram of the ties' hashes' high
// 16 bits and a pass that collects the bin holding the need-th smallest (two passes the progress
// did not plan).
void place_missed_ties(std::size_t models, std::int64_t numel, std::int64_t chunk, const std::vector<char>& missed,
                       const std::vector<std::uint64_t>& need, std::vector<TopCut>& cut, const ChunkRanks& ranks,
                       ThreadPool& pool, ProgressTracker& tracker) {
  tbb::enumerable_thread_specific<Histogram> hash_parts([models] { return Histogram(models * kBins, 0); });
  pass(
      models, numel, chunk, missed, ranks, pool, tracker, hash_parts,
      [&cut](std::size_t i, const std::uint32_t* key, std::int64_t first, std::size_t n, Histogram& h) {
        std::uint64_t* hh = h.data() + i * kBins;
        const TopCut& c = cut[i];
        for (std::size_t j = 0; j < n; ++j)
          if (key[j] == c.key) ++hh[merge_detail::tie_hash(c.tie_key, first + static_cast<std::int64_t>(j)) >> 48];
      },
      false);
  const Histogram hashes = merged(hash_parts, models);
  std::vector<std::uint32_t> hash_bin(models);
  std::vector<std::uint64_t> rank_in_bin(models);
  for (std::size_t i = 0; i < models; ++i) {
    if (!missed[i]) continue;
    const auto [b, below] = kth_smallest(hashes.data() + i * kBins, need[i]);
    hash_bin[i] = b;
    rank_in_bin[i] = need[i] - below;
  }
  using Collected = std::vector<std::vector<std::uint64_t>>;
  tbb::enumerable_thread_specific<Collected> collected([models] { return Collected(models); });
  pass(
      models, numel, chunk, missed, ranks, pool, tracker, collected,
      [&](std::size_t i, const std::uint32_t* key, std::int64_t first, std::size_t n, Collected& out) {
        const TopCut& c = cut[i];
        for (std::size_t j = 0; j < n; ++j) {
          if (key[j] != c.key) continue;
          const std::uint64_t h = merge_detail::tie_hash(c.tie_key, first + static_cast<std::int64_t>(j));
          if ((h >> 48) == hash_bin[i]) out[i].push_back(h);
        }
      },
      false);
  for (std::size_t i = 0; i < models; ++i) {
    if (!missed[i]) continue;
    std::vector<std::uint64_t> all;
    for (const Collected& part : collected) all.insert(all.end(), part[i].begin(), part[i].end());
    const auto r = static_cast<std::ptrdiff_t>(rank_in_bin[i] - 1);
    std::nth_element(all.begin(), all.begin() + r, all.end());
    cut[i].hash_last = all[static_cast<std::size_t>(r)];
  }
}

}  // namespace

std::size_t TopCut::mark(const float* r, std::size_t n, std::int64_t first, std::uint8_t* top) const {
  const auto [above, at] = mask::kernels::mark_ties(r, n, key, top);
  if (at == 0) return above;
  if (ties != Ties::Hashed) {
    mask::kernels::replace_byte(top, n, 2, ties == Ties::All ? 1 : 0);
    return above + (ties == Ties::All ? at : 0);
  }
  std::size_t kept = above;
  for (std::size_t j = 0; j < n; ++j)
    if (top[j] == 2) {
      const bool in = merge_detail::tie_hash(tie_key, first + static_cast<std::int64_t>(j)) <= hash_last;
      top[j] = in;
      kept += in;
    }
  return kept;
}

std::vector<TopCut> select_top_cuts(std::size_t models, std::int64_t numel, std::int64_t k, std::int64_t chunk,
                                    const ChunkRanks& ranks, ThreadPool& pool, ProgressTracker& tracker,
                                    const TieWindow& window) {
  if (chunk <= 0 || chunk > (std::int64_t{1} << 30)) throw usage_error("interference: bad chunk size");
  std::vector<TopCut> cut(models);
  const auto step = static_cast<std::uint64_t>(numel);
  if (k <= 0 || numel == 0) {
    tracker.advance(kSelectionPasses * step);
    return cut;
  }
  for (auto& c : cut) c = {0, TopCut::Ties::None, 0, 0};  // every non-NaN entry
  if (k >= numel) {                                       // and so k >= the non-NaN count
    tracker.advance(kSelectionPasses * step);
    return cut;
  }

  // Pass 1: high 16 bits of every model's keys.
  std::vector<char> want(models, 1);
  tbb::enumerable_thread_specific<Histogram> high_parts([models] { return Histogram(models * kBins, 0); });
  pass(models, numel, chunk, want, ranks, pool, tracker, high_parts,
       [](std::size_t i, const std::uint32_t* key, std::int64_t, std::size_t n, Histogram& h) {
         std::uint64_t* hi = h.data() + i * kBins;
         for (std::size_t j = 0; j < n; ++j) ++hi[key[j] >> 16];
       });
  const Histogram high = merged(high_parts, models);
  std::vector<std::uint64_t> kk(models), above(models);
  std::vector<std::uint32_t> bin(models);
  for (std::size_t i = 0; i < models; ++i) {
    const std::uint64_t* h = high.data() + i * kBins;
    const std::uint64_t numbers = step - h[0];  // bin 0 holds only NaN's key 0
    kk[i] = std::min(static_cast<std::uint64_t>(k), numbers);
    want[i] = kk[i] > 0 && kk[i] < numbers;
    if (kk[i] == 0) cut[i] = {};
    if (want[i]) std::tie(bin[i], above[i]) = kth_largest(h, kk[i]);
  }
  if (std::none_of(want.begin(), want.end(), [](char w) { return w != 0; })) {
    tracker.advance((kSelectionPasses - 1) * step);
    return cut;
  }

  // Pass 2: low 16 bits inside each model's bin.
  tbb::enumerable_thread_specific<Histogram> low_parts([models] { return Histogram(models * kBins, 0); });
  pass(models, numel, chunk, want, ranks, pool, tracker, low_parts,
       [&bin](std::size_t i, const std::uint32_t* key, std::int64_t, std::size_t n, Histogram& h) {
         std::uint64_t* lo = h.data() + i * kBins;
         const std::uint32_t b = bin[i];
         for (std::size_t j = 0; j < n; ++j)
           if ((key[j] >> 16) == b) ++lo[key[j] & 0xFFFFu];
       });
  const Histogram low = merged(low_parts, models);
  std::vector<std::uint64_t> need(models, 0);
  for (std::size_t i = 0; i < models; ++i) {
    if (!want[i]) continue;
    const std::uint64_t* h = low.data() + i * kBins;
    const auto [l, above_l] = kth_largest(h, kk[i] - above[i]);
    cut[i].key = (bin[i] << 16) | l;
    need[i] = kk[i] - above[i] - above_l;  // >= 1 of the h[l] entries equal to the k-th
    cut[i].ties = need[i] == h[l] ? TopCut::Ties::All : TopCut::Ties::Hashed;
    cut[i].tie_key = merge_detail::tie_key(i);
    want[i] = cut[i].ties == TopCut::Ties::Hashed;
  }
  if (std::none_of(want.begin(), want.end(), [](char w) { return w != 0; })) {
    tracker.advance((kSelectionPasses - 2) * step);
    return cut;
  }

  // Pass 3: the tie hashes are uniform, so the need-th smallest of T lies near need / T of the
  // hash range. Count the ties below a window around that point and collect those inside it (a
  // few thousand); the window misses only with a probability far below 1e-12, and then a histogram
  // pass and a collecting pass find the bin that holds it instead.
  std::vector<std::uint64_t> lo_edge(models, 0), hi_edge(models, ~std::uint64_t{0});
  for (std::size_t i = 0; i < models; ++i) {
    if (!want[i]) continue;
    const auto ties = static_cast<double>(low[i * kBins + (cut[i].key & 0xFFFFu)]);
    const double q = static_cast<double>(need[i]) / ties;
    const double margin = (window.sigmas * std::sqrt(ties * q * (1 - q)) + window.extra) / ties;  // of the range
    constexpr double kRange = 18446744073709551616.0;                                             // 2^64
    if (q - margin > 0) lo_edge[i] = static_cast<std::uint64_t>((q - margin) * kRange);
    if (q + margin < 1) hi_edge[i] = static_cast<std::uint64_t>((q + margin) * kRange);
  }
  struct Window {
    std::vector<std::uint64_t> below;
    std::vector<std::vector<std::uint64_t>> inside;
  };
  tbb::enumerable_thread_specific<Window> windows([models] {
    return Window{std::vector<std::uint64_t>(models, 0), std::vector<std::vector<std::uint64_t>>(models)};
  });
  pass(models, numel, chunk, want, ranks, pool, tracker, windows,
       [&](std::size_t i, const std::uint32_t* key, std::int64_t first, std::size_t n, Window& w) {
         const TopCut& c = cut[i];
         for (std::size_t j = 0; j < n; ++j) {
           if (key[j] != c.key) continue;
           const std::uint64_t h = merge_detail::tie_hash(c.tie_key, first + static_cast<std::int64_t>(j));
           if (h < lo_edge[i])
             ++w.below[i];
           else if (h <= hi_edge[i])
             w.inside[i].push_back(h);
         }
       });
  std::vector<char> missed(models, 0);
  for (std::size_t i = 0; i < models; ++i) {
    if (!want[i]) continue;
    std::uint64_t below = 0;
    std::vector<std::uint64_t> inside;
    for (const Window& w : windows) {
      below += w.below[i];
      inside.insert(inside.end(), w.inside[i].begin(), w.inside[i].end());
    }
    if (need[i] <= below || need[i] > below + inside.size()) {
      missed[i] = 1;
      continue;
    }
    const auto r = static_cast<std::ptrdiff_t>(need[i] - below - 1);
    std::nth_element(inside.begin(), inside.begin() + r, inside.end());
    cut[i].hash_last = inside[static_cast<std::size_t>(r)];
  }
  if (std::none_of(missed.begin(), missed.end(), [](char m) { return m != 0; })) return cut;
  place_missed_ties(models, numel, chunk, missed, need, cut, ranks, pool, tracker);
  return cut;
}

}  // namespace paramscope::interference_detail
