#include "merge/merge_kernel.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace paramscope::merge_detail {
namespace {

// SplitMix64's finaliser: a bijective mix whose outputs pass BigCrush as a counter-based stream.
std::uint64_t mix64(std::uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

bool in_top(const RankCut& c, std::int64_t numel, std::int64_t index, float magnitude) noexcept {
  if (c.rank <= 0) return false;
  if (c.rank >= numel) return true;
  return magnitude > c.threshold || (magnitude == c.threshold && index <= c.tie_last);
}

// The rank-th largest (1-based) of m[0, end), moving it to m[rank - 1] with the larger ones
// before it; returns it and how many before it are strictly larger.
float select_rank(std::vector<float>& m, std::int64_t rank, std::int64_t end, std::int64_t& greater) {
  auto first = m.begin();
  std::nth_element(first, first + (rank - 1), first + end, std::greater<float>());
  const float t = m[static_cast<std::size_t>(rank - 1)];
  greater = std::count_if(first, first + (rank - 1), [t](float v) { return v > t; });
  return t;
}

}  // namespace

bool Selection::keep(std::int64_t index, float magnitude) const noexcept {
  switch (kind) {
    case Sparsification::None:
      return true;
    case Sparsification::Random:
      return dare_keep_keyed(dare_key, index, density);
    case Sparsification::Magnitude:
    case Sparsification::MagnitudeOutliers:
      return in_top(hi, numel, index, magnitude) && !in_top(lo, numel, index, magnitude);
  }
  return true;
}

void magnitude_window(Sparsification kind, const MergeModelParams& p, std::int64_t numel, std::int64_t& lo,
                      std::int64_t& hi) noexcept {
  const double n = static_cast<double>(numel);
  const auto target = std::clamp<std::int64_t>(static_cast<std::int64_t>(p.density * n), 0, numel);
  lo = 0;
  hi = target;
  if (kind != Sparsification::MagnitudeOutliers) return;
  std::int64_t n_top = std::clamp<std::int64_t>(static_cast<std::int64_t>(p.gamma * n), 0, numel);
  std::int64_t n_bot = numel - target - n_top;
  if (n_bot < 0) {  // dropping gamma would miss the density: drop fewer of the largest
    n_top += n_bot;
    n_bot = 0;
  }
  lo = n_top;
  hi = numel - n_bot;
}

std::uint64_t dare_key(std::uint64_t seed, std::size_t model, std::string_view tensor) noexcept {
  return mix64(mix64(seed) ^ mix64(0x5eed0000ULL + model) ^ fnv1a(tensor));
}

bool dare_keep_keyed(std::uint64_t key, std::int64_t element, double density) noexcept {
  const std::uint64_t r = mix64(key ^ mix64(static_cast<std::uint64_t>(element)));
  const double u = static_cast<double>(r >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return u < density;
}

Selection make_selection(const MergeParams& params, const MergeModelParams& mp, std::size_t model,
                         std::string_view tensor, std::int64_t numel, std::vector<float>& magnitudes,
                         const MagnitudeReader& reread) {
  Selection s;
  s.numel = numel;
  s.density = mp.density;
  const Sparsification kind = merge_method_traits(params.method).sparsification;
  // mergekit leaves a task vector untouched at density >= 1 (no drop, no rescale).
  if (kind == Sparsification::None || mp.density >= 1.0) return s;
  s.kind = kind;
  if (kind == Sparsification::Random) {
    s.dare_key = dare_key(params.seed, model, tensor);
    if (params.rescale && mp.density > 0) s.scale = static_cast<float>(1.0 / mp.density);
    return s;
  }
  std::int64_t lo = 0, hi = 0;
  magnitude_window(kind, mp, numel, lo, hi);
  s.lo.rank = lo;
  s.hi.rank = hi;
  std::int64_t need_hi = 0, need_lo = 0;  // ties at each threshold that are kept
  if (hi > 0 && hi < numel) {
    std::int64_t greater = 0;
    s.hi.threshold = select_rank(magnitudes, hi, numel, greater);
    need_hi = hi - greater;
  }
  if (lo > 0 && lo < numel) {
    // After the first selection the hi - 1 largest lead the array; the lo-th largest is among them.
    const std::int64_t end = (hi > 0 && hi < numel) ? hi : numel;
    std::int64_t greater = 0;
    s.lo.threshold = select_rank(magnitudes, lo, end, greater);
    need_lo = lo - greater;
  }
  if (need_hi == 0 && need_lo == 0) return s;
  // Place the boundary ties: the first `need` elements equal to a threshold, in element order.
  std::vector<float> buf(static_cast<std::size_t>(std::min<std::int64_t>(numel, 1 << 16)));
  std::int64_t seen_hi = 0, seen_lo = 0;
  for (std::int64_t first = 0; first < numel && (seen_hi < need_hi || seen_lo < need_lo);
       first += static_cast<std::int64_t>(buf.size())) {
    const auto n =
        static_cast<std::size_t>(std::min<std::int64_t>(numel - first, static_cast<std::int64_t>(buf.size())));
    reread(first, std::span<float>(buf.data(), n));
    for (std::size_t j = 0; j < n; ++j) {
      const std::int64_t idx = first + static_cast<std::int64_t>(j);
      if (seen_hi < need_hi && buf[j] == s.hi.threshold && ++seen_hi == need_hi) s.hi.tie_last = idx;
      if (seen_lo < need_lo && buf[j] == s.lo.threshold && ++seen_lo == need_lo) s.lo.tie_last = idx;
    }
  }
  return s;
}

void merge_chunk(const MergeParams& params, const std::vector<MergeModelParams>& mp, const std::vector<Selection>& sel,
                 std::int64_t first, std::int64_t n, const float* base, const float* const* x, float* out,
                 ChunkCounts& counts) {
  const std::size_t models = mp.size();
  counts.kept.resize(models, 0);
  counts.contributed.resize(models, 0);
  if (params.method == MergeMethod::Linear) {
    double wsum = 0;
    for (const auto& p : mp) wsum += p.weight;
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::size_t i = 0; i < models; ++i) acc += mp[i].weight * static_cast<double>(x[i][j]);
      out[j] = static_cast<float>(params.normalize ? acc / wsum : acc);
    }
    for (std::size_t i = 0; i < models; ++i) {
      counts.kept[i] += n;
      counts.contributed[i] += n;
    }
    return;
  }
  const SignConsensus consensus = params.consensus;
  std::vector<double> wd(models);
  std::vector<std::int64_t> kept(models, 0), contributed(models, 0);
  std::int64_t conflicts = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t idx = first + j;
    bool pos = false, neg = false;
    for (std::size_t i = 0; i < models; ++i) {
      const float tau = x[i][j] - base[j];
      double d = 0;
      if (sel[i].keep(idx, selection_magnitude(tau))) {
        ++kept[i];
        d = static_cast<double>(tau * sel[i].scale);
      }
      wd[i] = mp[i].weight * d;
      pos = pos || wd[i] > 0;
      neg = neg || wd[i] < 0;
    }
    if (pos && neg) ++conflicts;
    double mixed = 0, divisor = 0;
    if (consensus == SignConsensus::None) {
      for (std::size_t i = 0; i < models; ++i) {
        mixed += wd[i];
        divisor += mp[i].weight;
      }
      if (std::fabs(divisor) < 1e-8) divisor = 1;
    } else {
      double vote = 0;
      for (std::size_t i = 0; i < models; ++i)
        vote += consensus == SignConsensus::Sum ? wd[i] : (wd[i] > 0 ? 1.0 : (wd[i] < 0 ? -1.0 : 0.0));
      const int elected = vote >= 0 ? 1 : -1;  // a tie (or nothing kept) elects +
      for (std::size_t i = 0; i < models; ++i) {
        // sign(0) is 0 and never equals the elected sign: dropped entries neither add nor divide.
        const int sign = wd[i] > 0 ? 1 : (wd[i] < 0 ? -1 : 0);
        if (sign != elected) continue;
        mixed += wd[i];
        divisor += mp[i].weight;
        ++contributed[i];
      }
      if (divisor == 0) divisor = 1;
    }
    if (params.normalize) mixed /= divisor;
    mixed *= params.lambda;
    out[j] = static_cast<float>(static_cast<double>(base[j]) + mixed);
  }
  for (std::size_t i = 0; i < models; ++i) {
    counts.kept[i] += kept[i];
    counts.contributed[i] += consensus == SignConsensus::None ? kept[i] : contributed[i];
  }
  counts.conflicts += conflicts;
}

}  // namespace paramscope::merge_detail
