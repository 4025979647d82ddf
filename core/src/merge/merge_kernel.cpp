#include "merge/merge_kernel.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

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
  if (magnitude != c.threshold) return magnitude > c.threshold;
  return index <= c.tie_last;
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

// PCB: lambda * sum_i w_i clip(tau_i) s_i / max(sum_i s_i, 1e-12), s_i the scaled balancing value.
void merge_chunk_pcb(const MergeParams& params, const std::vector<MergeModelParams>& mp,
                     const std::vector<Selection>& sel, std::int64_t first, std::int64_t n, const float* base,
                     const float* const* x, float* out, ChunkCounts& counts, std::uint32_t* contrib) {
  const std::size_t models = mp.size();
  std::int64_t conflicts = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t idx = first + j;
    double num = 0, den = 0;
    bool pos = false, neg = false;
    std::uint32_t bits = 0;
    for (std::size_t i = 0; i < models; ++i) {
      const float s = sel[i].pcb_scale(idx);
      if (!(s > 0)) continue;
      const float t = x[i][j] - base[j];
      const float a = std::min(std::max(selection_magnitude(t), sel[i].clamp_lo), sel[i].clamp_hi);
      const float clipped = t > 0 ? a : (t < 0 ? -a : 0.0f);
      const double wd = mp[i].weight * static_cast<double>(clipped) * static_cast<double>(s);
      num += wd;
      den += s;
      ++counts.kept[i];
      ++counts.contributed[i];
      if (i < 32) bits |= 1u << i;
      pos = pos || wd > 0;
      neg = neg || wd < 0;
    }
    conflicts += pos && neg;
    out[j] = static_cast<float>(static_cast<double>(base[j]) + params.lambda * num / std::max(den, 1e-12));
    if (contrib) contrib[j] = bits;
  }
  counts.conflicts += conflicts;
}

// Importance-weighted: lambda * sum_i w_i s_i tau_i / sum_i w_i s_i; where that divisor is 0 (or no
// scores), the weighted mean sum_i w_i tau_i / sum_i w_i.
void merge_chunk_importance(const MergeParams& params, const std::vector<MergeModelParams>& mp, std::int64_t n,
                            const float* base, const float* const* x, const float* const* importance, float* out,
                            ChunkCounts& counts, std::uint32_t* contrib) {
  const std::size_t models = mp.size();
  double wsum = 0;
  for (const auto& p : mp) wsum += p.weight;
  if (std::fabs(wsum) < 1e-8) wsum = 1;
  std::int64_t conflicts = 0;
  std::vector<double> ws(models);
  for (std::int64_t j = 0; j < n; ++j) {
    double num = 0, den = 0, plain = 0;
    bool pos = false, neg = false;
    for (std::size_t i = 0; i < models; ++i) {
      const double t = static_cast<double>(x[i][j] - base[j]);
      double s = importance ? static_cast<double>(importance[i][j]) : 0.0;
      if (!(s == s)) s = 0;  // NaN scores (NaN inputs) carry no weight
      ws[i] = mp[i].weight * s;
      num += ws[i] * t;
      den += ws[i];
      plain += mp[i].weight * t;
      pos = pos || mp[i].weight * t > 0;
      neg = neg || mp[i].weight * t < 0;
    }
    conflicts += pos && neg;
    const bool weighted = den != 0;
    std::uint32_t bits = 0;
    for (std::size_t i = 0; i < models; ++i) {
      ++counts.kept[i];
      if (weighted && ws[i] == 0) continue;
      ++counts.contributed[i];
      if (i < 32) bits |= 1u << i;
    }
    out[j] = static_cast<float>(static_cast<double>(base[j]) + params.lambda * (weighted ? num / den : plain / wsum));
    if (contrib) contrib[j] = bits;
  }
  counts.conflicts += conflicts;
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

float Selection::pcb_scale(std::int64_t index) const noexcept {
  const float b = (*balance)[static_cast<std::size_t>(index)];
  if (top > cut) return (std::max(b, cut) - cut) / (top - cut);
  return b >= top ? 1.0f : 0.0f;  // a flat row: min-max is 0/0 (NaN in torch); keep the top entries
}

std::vector<Selection> make_pcb_selections(const MergeParams& params, std::size_t models, std::int64_t numel,
                                           const TauReader& tau, const ParallelFor& parallel) {
  std::vector<Selection> sel(models);
  for (auto& s : sel) s.numel = numel;
  if (numel == 0 || models == 0) return sel;
  constexpr std::int64_t kChunk = 1 << 14;
  const auto chunks = static_cast<std::size_t>((numel + kChunk - 1) / kChunk);
  const auto d = static_cast<double>(numel);
  const auto index = [numel](double v) {  // Python's int(): truncation, then kept inside the row
    return static_cast<std::size_t>(std::clamp<std::int64_t>(static_cast<std::int64_t>(v), 0, numel - 1));
  };
  std::vector<float> scratch(static_cast<std::size_t>(numel));
  // Clip bounds of each |tau_i|: sorted[int(d * r)] and sorted[int(d * (1 - r) - 1)], ascending.
  const std::size_t lo_at = index(d * kPcbClipRatio), hi_at = index(d * (1 - kPcbClipRatio) - 1);
  for (std::size_t i = 0; i < models; ++i) {
    parallel(chunks, [&](std::size_t cb, std::size_t ce) {
      for (std::size_t c = cb; c < ce; ++c) {
        const auto first = static_cast<std::int64_t>(c) * kChunk;
        const auto n = static_cast<std::size_t>(std::min(kChunk, numel - first));
        std::span<float> out(scratch.data() + first, n);
        tau(i, first, out);
        for (float& v : out) v = selection_magnitude(v);
      }
    });
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(lo_at), scratch.end());
    sel[i].clamp_lo = scratch[lo_at];
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(hi_at), scratch.end());
    sel[i].clamp_hi = scratch[hi_at];
  }
  // Balancing matrix, element by element over all models.
  std::vector<std::shared_ptr<std::vector<float>>> rows(models);
  for (auto& r : rows) r = std::make_shared<std::vector<float>>(static_cast<std::size_t>(numel));
  const auto n_models = static_cast<float>(models);
  parallel(chunks, [&](std::size_t cb, std::size_t ce) {
    std::vector<float> buf(static_cast<std::size_t>(kChunk) * models);
    for (std::size_t c = cb; c < ce; ++c) {
      const auto first = static_cast<std::int64_t>(c) * kChunk;
      const auto n = static_cast<std::size_t>(std::min(kChunk, numel - first));
      for (std::size_t i = 0; i < models; ++i) tau(i, first, std::span<float>(buf.data() + i * kChunk, n));
      for (std::size_t j = 0; j < n; ++j) {
        float sum = 0;
        for (std::size_t i = 0; i < models; ++i) sum += buf[i * kChunk + j];
        for (std::size_t i = 0; i < models; ++i) {
          const Selection& s = sel[i];
          const float t = buf[i * kChunk + j];
          const float a = std::min(std::max(selection_magnitude(t), s.clamp_lo), s.clamp_hi);
          const float x = s.clamp_hi > s.clamp_lo ? (a - s.clamp_lo) / (s.clamp_hi - s.clamp_lo) : 0.0f;
          float b = std::exp(n_models * x * x) * std::tanh(t * sum);
          if (!(b == b)) b = std::numeric_limits<float>::lowest();  // NaN deltas are never kept
          (*rows[i])[static_cast<std::size_t>(first) + j] = b;
        }
      }
    }
  });
  // Each row keeps what lies above its (1 - ratio) quantile: sorted[int(d * (1 - ratio))].
  const std::size_t cut_at = index(d * (1 - params.pcb_ratio));
  for (std::size_t i = 0; i < models; ++i) {
    std::copy(rows[i]->begin(), rows[i]->end(), scratch.begin());
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(cut_at), scratch.end());
    sel[i].cut = scratch[cut_at];
    sel[i].top = *std::max_element(scratch.begin() + static_cast<std::ptrdiff_t>(cut_at), scratch.end());
    sel[i].balance = std::move(rows[i]);
  }
  return sel;
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

std::uint64_t tie_hash(std::uint64_t key, std::int64_t index) noexcept {
  return mix64(key ^ mix64(static_cast<std::uint64_t>(index)));
}

std::uint64_t tie_key(std::size_t model) noexcept { return mix64(0x71e5000000000000ULL + model); }

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
                 ChunkCounts& counts, std::uint32_t* contrib, const float* const* importance) {
  const std::size_t models = mp.size();
  const std::uint32_t all = models >= 32 ? ~0u : (1u << models) - 1u;
  counts.kept.resize(models, 0);
  counts.contributed.resize(models, 0);
  if (params.method == MergeMethod::Pcb) {
    merge_chunk_pcb(params, mp, sel, first, n, base, x, out, counts, contrib);
    return;
  }
  if (params.method == MergeMethod::ImportanceWeighted) {
    merge_chunk_importance(params, mp, n, base, x, importance, out, counts, contrib);
    return;
  }
  if (params.method == MergeMethod::Linear) {
    double wsum = 0;
    for (const auto& p : mp) wsum += p.weight;
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::size_t i = 0; i < models; ++i) acc += mp[i].weight * static_cast<double>(x[i][j]);
      out[j] = static_cast<float>(params.normalize ? acc / wsum : acc);
      if (contrib) contrib[j] = all;
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
    std::uint32_t bits = 0;
    for (std::size_t i = 0; i < models; ++i) {
      const float tau = x[i][j] - base[j];
      double d = 0;
      if (sel[i].keep(idx, selection_magnitude(tau))) {
        ++kept[i];
        if (i < 32) bits |= 1u << i;
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
      bits = 0;
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
        if (i < 32) bits |= 1u << i;
      }
      if (divisor == 0) divisor = 1;
    }
    if (params.normalize) mixed /= divisor;
    mixed *= params.lambda;
    out[j] = static_cast<float>(static_cast<double>(base[j]) + mixed);
    if (contrib) contrib[j] = bits;
  }
  for (std::size_t i = 0; i < models; ++i) {
    counts.kept[i] += kept[i];
    counts.contributed[i] += consensus == SignConsensus::None ? kept[i] : contributed[i];
  }
  counts.conflicts += conflicts;
}

}  // namespace paramscope::merge_detail
