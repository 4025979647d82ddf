// The element-wise core of every merge method: which task-vector entries survive (selection) and
// how the survivors are mixed (merge_chunk). Shared by the in-memory and the streamed merge.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "paramscope/merge.h"

namespace paramscope::merge_detail {

/// "rank < rank" in the order of descending |tau|, ties broken by ascending element index: an
/// element is in the top `rank` iff |tau| > threshold, or |tau| == threshold and index <= tie_last.
struct RankCut {
  std::int64_t rank = 0;
  float threshold = 0;
  std::int64_t tie_last = -1;
};

/// The order in which the interference analysis takes tied elements: a bijective mix of the
/// element index (interference_topk.h).
std::uint64_t tie_hash(std::uint64_t key, std::int64_t index) noexcept;
/// The key of model `model`'s hashed ties (the same for every tensor).
std::uint64_t tie_key(std::size_t model) noexcept;

/// One model's selection over one tensor.
struct Selection {
  Sparsification kind = Sparsification::None;  ///< None also when density >= 1 (mergekit keeps all)
  std::int64_t numel = 0;
  RankCut hi, lo;  ///< magnitude methods keep descending ranks [lo.rank, hi.rank)
  double density = 1;
  std::uint64_t dare_key = 0;
  float scale = 1;  ///< DARE's 1/density when rescaling

  // PCB: |tau| is clipped to [clamp_lo, clamp_hi]; the balancing value b of each element (one
  // float per element, shared by the selection's copies) is cut at `cut` and scaled by the
  // row's maximum `top` into [0, 1].
  float clamp_lo = 0, clamp_hi = 0, cut = 0, top = 0;
  std::shared_ptr<const std::vector<float>> balance;

  bool keep(std::int64_t index, float magnitude) const noexcept;
  /// PCB's scale of element index (0: dropped).
  float pcb_scale(std::int64_t index) const noexcept;
};

/// |tau| as the selection sees it: NaN counts as 0 so that the order is total.
inline float selection_magnitude(float tau) noexcept {
  const float a = tau < 0 ? -tau : tau;
  return a == a ? a : 0.0f;
}

/// The descending-rank window [lo, hi) a magnitude method keeps, as mergekit computes it
/// (k = int(density * numel); breadcrumbs shifts n_top down when n_top + k > numel).
void magnitude_window(Sparsification kind, const MergeModelParams& p, std::int64_t numel, std::int64_t& lo,
                      std::int64_t& hi) noexcept;

/// Key of DARE's counter-based generator for (seed, model, tensor).
std::uint64_t dare_key(std::uint64_t seed, std::size_t model, std::string_view tensor) noexcept;
bool dare_keep_keyed(std::uint64_t key, std::int64_t element, double density) noexcept;

/// Reads |tau| of elements [first, first + out.size()) (already passed through selection_magnitude).
using MagnitudeReader = std::function<void(std::int64_t first, std::span<float> out)>;

/// Builds a model's selection. For magnitude methods `magnitudes` holds |tau| of the whole tensor
/// (it is reordered); `reread` streams it again in element order to place the boundary ties.
Selection make_selection(const MergeParams& params, const MergeModelParams& mp, std::size_t model,
                         std::string_view tensor, std::int64_t numel, std::vector<float>& magnitudes,
                         const MagnitudeReader& reread);

/// Reads tau of model `model` for elements [first, first + out.size()).
using TauReader = std::function<void(std::size_t model, std::int64_t first, std::span<float> out)>;

/// PCB's selections of all models of one tensor (the authors' PCB_merge, per tensor): clip
/// bounds of |tau_i|, the balancing matrix b_i = exp(N * minmax(clip|tau_i|)^2) * tanh(tau_i *
/// sum_j tau_j) and each row's cut at the (1 - pcb_ratio) quantile. Holds N + 1 floats per
/// element (the matrix and one scratch row). parallel runs a range of chunk indices.
using ParallelFor = std::function<void(std::size_t count, const std::function<void(std::size_t, std::size_t)>&)>;
std::vector<Selection> make_pcb_selections(const MergeParams& params, std::size_t models, std::int64_t numel,
                                           const TauReader& tau, const ParallelFor& parallel);

/// PCB's fixed clip ratio of |tau| at both ends (pcb-merging.py's clamp(min_ratio, max_ratio)).
inline constexpr double kPcbClipRatio = 0.0001;

/// Counts a chunk adds to a tensor's statistics.
struct ChunkCounts {
  std::vector<std::int64_t> kept, contributed;
  std::int64_t conflicts = 0;
};

/// Merges elements [first, first + n): base[j] and x[i][j] are the chunk's values (base unused by
/// Linear), out[j] receives the merged value. When contrib is given (at most 32 models), bit i of
/// contrib[j] tells whether model i's entry contributed to out[j]. importance[i][j] is model i's
/// score of the chunk's element j (ImportanceWeighted; nullptr: the weighted mean).
void merge_chunk(const MergeParams& params, const std::vector<MergeModelParams>& mp, const std::vector<Selection>& sel,
                 std::int64_t first, std::int64_t n, const float* base, const float* const* x, float* out,
                 ChunkCounts& counts, std::uint32_t* contrib = nullptr, const float* const* importance = nullptr);

}  // namespace paramscope::merge_detail
