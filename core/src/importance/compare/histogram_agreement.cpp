// Ranks of a unit too large to sort in memory, from two-level histograms of the order-preserving
// keys: 65536 bins of the high 16 bits, and bins that hold several distinct values split again by
// the low 16 bits (as finely as the budget allows: exact when every such bin gets all 16 bits).
// Every element's average rank is then a table look-up, so the rank products add up in one pass.
//
// Passes over the unit (both fields): 1 high histograms; 2 fine histograms, and the low
// histogram of the top-k boundary bin; [2b tie counts per chunk, rarely]; 3 rank sums and the
// top-k intersection.
#include <tbb/enumerable_thread_specific.h>

#include <algorithm>

#include "importance/compare/compare_units.h"
#include "importance/compare/rank_sums.h"
#include "importance/mask/score_key.h"
#include "paramscope/error.h"

namespace paramscope::compare {
namespace {

using mask::score_key;
constexpr std::size_t kBins = 65536;
constexpr std::uint32_t kResolved = 0xFFFFFFFFu;
using Histogram = std::vector<std::uint64_t>;

[[noreturn]] void scores_changed() {
  throw usage_error("compare: a score field gave different scores on a second read");
}

/// First level of one field: counts per high-16-bit bin, and the range of low bits seen in each.
struct Level1 {
  Histogram count = Histogram(kBins, 0);
  std::vector<std::uint16_t> lo_min = std::vector<std::uint16_t>(kBins, 0xFFFF);
  std::vector<std::uint16_t> lo_max = std::vector<std::uint16_t>(kBins, 0);

  void add(std::uint32_t key) {
    const std::uint32_t h = key >> 16;
    const auto lo = static_cast<std::uint16_t>(key);
    ++count[h];
    lo_min[h] = std::min(lo_min[h], lo);
    lo_max[h] = std::max(lo_max[h], lo);
  }
  void merge(const Level1& o) {
    for (std::size_t h = 0; h < kBins; ++h) {
      count[h] += o.count[h];
      lo_min[h] = std::min(lo_min[h], o.lo_min[h]);
      lo_max[h] = std::max(lo_max[h], o.lo_max[h]);
    }
  }
};

/// Doubled average ranks by key. Bins with one distinct key are exact at the first level; the
/// others get 2^(16 - shift) fine bins over their low-bit range.
class RankTable {
 public:
  RankTable(const Level1& l1, std::int64_t budget) : lo_min_(l1.lo_min), offset_(kBins, kResolved), shift_(kBins, 0) {
    std::vector<std::size_t> split;
    std::uint64_t n = 0;
    for (std::size_t h = 0; h < kBins; ++h) {
      n += l1.count[h];
      if (l1.count[h] > 1 && l1.lo_min[h] < l1.lo_max[h]) split.push_back(h);
    }
    auto fine_bins = [&](std::size_t h, int s) -> std::uint64_t {
      return static_cast<std::uint64_t>((l1.lo_max[h] - l1.lo_min[h]) >> s) + 1;
    };
    std::uint64_t total = 0;
    for (std::size_t h : split) total += fine_bins(h, 0);
    if (total > static_cast<std::uint64_t>(budget)) {
      // Coarsen: the smallest population target T (a power of two) whose fine bins fit, each bin
      // cut into at least count / T parts where its range allows.
      for (std::uint64_t target = 1;; target *= 2) {
        total = 0;
        for (std::size_t h : split) {
          const std::uint64_t want = (l1.count[h] + target - 1) / target;
          int s = 16;
          while (s > 0 && fine_bins(h, s) < want) --s;
          shift_[h] = static_cast<std::uint8_t>(s);
          total += fine_bins(h, s);
        }
        if (total <= static_cast<std::uint64_t>(budget) || target > n) break;
      }
    }
    std::uint64_t at = 0;
    for (std::size_t h : split) {
      offset_[h] = static_cast<std::uint32_t>(at);
      at += fine_bins(h, shift_[h]);
      exact_ = exact_ && shift_[h] == 0;
    }
    fine_size_ = at;
    r1_.assign(kBins, 0);
    r2_.assign(fine_size_, 0);
  }

  std::size_t fine_size() const noexcept { return fine_size_; }
  bool exact() const noexcept { return exact_; }
  u128 squares() const noexcept { return squares_; }

  /// The fine bin of a key, or kResolved when its first-level bin is not split.
  std::uint32_t fine(std::uint32_t key) const noexcept {
    const std::uint32_t h = key >> 16, off = offset_[h];
    if (off == kResolved) return kResolved;
    return off + ((static_cast<std::uint32_t>(key & 0xFFFFu) - lo_min_[h]) >> shift_[h]);
  }

  void set_ranks(const Level1& l1, const Histogram& fine_counts) {
    std::uint64_t below = 0;
    for (std::size_t h = 0; h < kBins; ++h) {
      const std::uint64_t c = l1.count[h];
      if (c == 0) continue;
      if (offset_[h] == kResolved) {
        r1_[h] = rank_of(below, c);
        below += c;
        continue;
      }
      const std::uint64_t bins = ((l1.lo_max[h] - l1.lo_min[h]) >> shift_[h]) + 1;
      std::uint64_t seen = 0;
      for (std::uint64_t j = offset_[h]; j < offset_[h] + bins; ++j) {
        r2_[j] = rank_of(below, fine_counts[j]);
        below += fine_counts[j];
        seen += fine_counts[j];
      }
      if (seen != c) scores_changed();
    }
  }

  std::uint64_t rank2(std::uint32_t key) const noexcept {
    const std::uint32_t f = fine(key);
    return f == kResolved ? r1_[key >> 16] : r2_[f];
  }

 private:
  // Doubled average rank of c equal values above `below` smaller ones: 2 * below + c + 1.
  std::uint64_t rank_of(std::uint64_t below, std::uint64_t c) {
    const std::uint64_t r = 2 * below + c + 1;
    squares_ += static_cast<u128>(r) * r * c;
    return r;
  }

  std::vector<std::uint16_t> lo_min_;
  std::vector<std::uint32_t> offset_;
  std::vector<std::uint8_t> shift_;
  std::size_t fine_size_ = 0;
  bool exact_ = true;
  std::vector<std::uint64_t> r1_, r2_;
  u128 squares_ = 0;
};

/// The bin that holds the k-th largest entry (1 <= k <= total), and how many lie above it.
std::pair<std::uint32_t, std::uint64_t> bin_of_kth(const Histogram& h, std::uint64_t k) {
  std::uint64_t above = 0;
  for (std::size_t b = kBins; b-- > 0;) {
    if (above + h[b] >= k) return {static_cast<std::uint32_t>(b), above};
    above += h[b];
  }
  scores_changed();
}

/// One field's top-k boundary, refined pass by pass as in masks (see mask/topk_select.h).
struct Boundary {
  std::uint32_t bin = 0;  // high bits of the k-th key
  std::uint64_t above_bin = 0;
  Histogram low;                      // low-bit histogram of that bin
  std::vector<std::uint32_t> in_bin;  // per chunk
  std::vector<std::uint32_t> ties;    // per chunk, when needed
  std::uint32_t t = 0;
  std::uint64_t needed = 0;
  bool partial = false, single_key = false;
  mask::Cut cut = mask::Cut::none();

  void find_key(std::uint64_t k) {
    const auto [l, above_l] = bin_of_kth(low, k - above_bin);
    t = (bin << 16) | l;
    needed = k - above_bin - above_l;
    partial = needed < low[l];
    single_key = std::count_if(low.begin(), low.end(), [](std::uint64_t c) { return c != 0; }) == 1;
    cut = {t, std::numeric_limits<std::int64_t>::max(), nullptr};
    if (single_key) ties = in_bin;
  }
  bool needs_tie_pass() const { return partial && !single_key; }
};

}  // namespace

CriteriaAgreement histogram_agreement(const UnitPair& unit, double top_fraction, ThreadPool& pool,
                                      mask::StagedProgress& progress, const CompareTuning& tuning) {
  const ChunkPlan plan(unit.a, tuning.chunk);
  const std::size_t chunks = plan.size();
  auto position = [&](const Chunk& ch, std::size_t j) {
    return unit.a.offset(ch.array) + ch.first + static_cast<std::int64_t>(j);
  };

  // Pass 1: first-level histograms of the pairs where both scores are numbers.
  Level1 la, lb;
  {
    tbb::enumerable_thread_specific<std::pair<Level1, Level1>> parts;
    const JobControl jc = progress.pass(plan.elements());
    stream_pairs(unit, plan, nullptr, pool, jc, [&](const Chunk& ch, std::span<const float> bv) {
      auto& [pa, pb] = parts.local();
      for (std::size_t j = 0; j < bv.size(); ++j) {
        const std::uint32_t ka = score_key(ch.values[j]), kb = score_key(bv[j]);
        if (ka == 0 || kb == 0) continue;
        pa.add(ka);
        pb.add(kb);
      }
    });
    for (const auto& [pa, pb] : parts) {
      la.merge(pa);
      lb.merge(pb);
    }
  }
  std::uint64_t n = 0;
  for (std::uint64_t c : la.count) n += c;
  const auto k = static_cast<std::uint64_t>(mask::fraction_count(top_fraction, static_cast<std::int64_t>(n)));

  RankTable ta(la, tuning.fine_bins), tb(lb, tuning.fine_bins);
  Boundary ba, bb;
  if (k > 0) {
    std::tie(ba.bin, ba.above_bin) = bin_of_kth(la.count, k);
    std::tie(bb.bin, bb.above_bin) = bin_of_kth(lb.count, k);
  }

  // Pass 2: fine histograms; low bits of each boundary bin, and how many fall in it per chunk.
  {
    struct Local {
      Histogram fa, fb, lowa = Histogram(kBins, 0), lowb = Histogram(kBins, 0);
    };
    tbb::enumerable_thread_specific<Local> parts([&] {
      Local l;
      l.fa.assign(ta.fine_size(), 0);
      l.fb.assign(tb.fine_size(), 0);
      return l;
    });
    ba.in_bin.assign(chunks, 0);
    bb.in_bin.assign(chunks, 0);
    const JobControl jc = progress.pass(plan.elements());
    stream_pairs(unit, plan, nullptr, pool, jc, [&](const Chunk& ch, std::span<const float> bv) {
      Local& l = parts.local();
      std::uint32_t in_a = 0, in_b = 0;
      for (std::size_t j = 0; j < bv.size(); ++j) {
        const std::uint32_t ka = score_key(ch.values[j]), kb = score_key(bv[j]);
        if (ka == 0 || kb == 0) continue;
        if (const std::uint32_t f = ta.fine(ka); f != kResolved) ++l.fa[f];
        if (const std::uint32_t f = tb.fine(kb); f != kResolved) ++l.fb[f];
        if ((ka >> 16) == ba.bin) {
          ++l.lowa[ka & 0xFFFFu];
          ++in_a;
        }
        if ((kb >> 16) == bb.bin) {
          ++l.lowb[kb & 0xFFFFu];
          ++in_b;
        }
      }
      ba.in_bin[ch.index] = in_a;
      bb.in_bin[ch.index] = in_b;
    });
    Histogram fa(ta.fine_size(), 0), fb(tb.fine_size(), 0);
    ba.low.assign(kBins, 0);
    bb.low.assign(kBins, 0);
    for (const Local& l : parts) {
      for (std::size_t i = 0; i < fa.size(); ++i) fa[i] += l.fa[i];
      for (std::size_t i = 0; i < fb.size(); ++i) fb[i] += l.fb[i];
      for (std::size_t i = 0; i < kBins; ++i) {
        ba.low[i] += l.lowa[i];
        bb.low[i] += l.lowb[i];
      }
    }
    ta.set_ranks(la, fa);
    tb.set_ranks(lb, fb);
  }

  if (k > 0) {
    ba.find_key(k);
    bb.find_key(k);
    // Pass 2b (only when some but not all elements equal to a boundary key are kept, and its
    // bin holds other keys too): ties per chunk, over the chunks that touch the boundary bins.
    if (ba.needs_tie_pass() || bb.needs_tie_pass()) {
      std::vector<std::size_t> list;
      std::uint64_t elems = 0;
      for (std::size_t c = 0; c < chunks; ++c)
        if ((ba.needs_tie_pass() && ba.in_bin[c]) || (bb.needs_tie_pass() && bb.in_bin[c])) {
          list.push_back(c);
          elems += static_cast<std::uint64_t>(plan.item(c).count);
        }
      if (ba.needs_tie_pass()) ba.ties.assign(chunks, 0);
      if (bb.needs_tie_pass()) bb.ties.assign(chunks, 0);
      const JobControl jc = progress.pass(elems);
      stream_pairs(unit, plan, &list, pool, jc, [&](const Chunk& ch, std::span<const float> bv) {
        std::uint32_t tie_a = 0, tie_b = 0;
        for (std::size_t j = 0; j < bv.size(); ++j) {
          const std::uint32_t ka = score_key(ch.values[j]), kb = score_key(bv[j]);
          if (ka == 0 || kb == 0) continue;
          tie_a += ka == ba.t;
          tie_b += kb == bb.t;
        }
        if (ba.needs_tie_pass()) ba.ties[ch.index] = tie_a;
        if (bb.needs_tie_pass()) bb.ties[ch.index] = tie_b;
      });
    }
    // The last kept tie: in the chunk where the running count of ties reaches `needed`.
    for (Boundary* bd : {&ba, &bb}) {
      if (!bd->partial) continue;
      const bool is_a = bd == &ba;
      std::uint64_t cum = 0;
      std::size_t c = 0;
      while (c < chunks && cum + bd->ties[c] < bd->needed) cum += bd->ties[c++];
      if (c == chunks) scores_changed();
      const auto& it = plan.item(c);
      std::vector<float> va(static_cast<std::size_t>(it.count)), vb(va.size());
      unit.a.read(it.array, it.first, va);
      unit.b.read(it.array, it.first, vb);
      std::uint64_t seen = cum;
      for (std::size_t j = 0; j < va.size() && seen < bd->needed; ++j) {
        const std::uint32_t ka = score_key(va[j]), kb = score_key(vb[j]);
        if (ka == 0 || kb == 0 || (is_a ? ka : kb) != bd->t) continue;
        if (++seen == bd->needed) bd->cut.last_tie = unit.a.offset(it.array) + it.first + static_cast<std::int64_t>(j);
      }
      if (seen != bd->needed) scores_changed();
    }
  }

  // Pass 3: rank products and the top-k intersection, in exact integers.
  RankSums sums;
  sums.n = n;
  sums.rr = ta.squares();
  sums.ss = tb.squares();
  std::uint64_t both = 0;
  {
    struct Local {
      u128 rs = 0;
      std::uint64_t both = 0;
    };
    tbb::enumerable_thread_specific<Local> parts;
    const JobControl jc = progress.pass(plan.elements());
    stream_pairs(unit, plan, nullptr, pool, jc, [&](const Chunk& ch, std::span<const float> bv) {
      Local& l = parts.local();
      for (std::size_t j = 0; j < bv.size(); ++j) {
        const std::uint32_t ka = score_key(ch.values[j]), kb = score_key(bv[j]);
        if (ka == 0 || kb == 0) continue;
        l.rs += static_cast<u128>(ta.rank2(ka)) * tb.rank2(kb);
        if (ka >= ba.t && kb >= bb.t) {  // cheap test first: both at or above their boundary keys
          const std::int64_t pos = position(ch, j);
          l.both += ba.cut.keeps(ka, pos) && bb.cut.keeps(kb, pos);
        }
      }
    });
    for (const Local& l : parts) {
      sums.rs += l.rs;
      both += l.both;
    }
  }
  CriteriaAgreement r;
  r.elements = static_cast<std::int64_t>(n);
  r.spearman = spearman(sums);
  r.topk_jaccard = jaccard(both, k);
  r.exact = ta.exact() && tb.exact();
  return r;
}

}  // namespace paramscope::compare
