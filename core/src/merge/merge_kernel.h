// The element-wise core of every merge method: which task-vector entries survive (selection) and
// how the survivors are mixed (merge_chunk). Shared by the in-memory and the streamed merge.
#pragma once

#include <cstdint>
#include <functional>
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

/// One model's selection over one tensor.
struct Selection {
  Sparsification kind = Sparsification::None;  ///< None also when density >= 1 (mergekit keeps all)
  std::int64_t numel = 0;
  RankCut hi, lo;  ///< magnitude methods keep descending ranks [lo.rank, hi.rank)
  double density = 1;
  std::uint64_t dare_key = 0;
  float scale = 1;  ///< DARE's 1/density when rescaling

  bool keep(std::int64_t index, float magnitude) const noexcept;
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

/// Counts a chunk adds to a tensor's statistics.
struct ChunkCounts {
  std::vector<std::int64_t> kept, contributed;
  std::int64_t conflicts = 0;
};

/// Merges elements [first, first + n): base[j] and x[i][j] are the chunk's values (base unused by
/// Linear), out[j] receives the merged value.
void merge_chunk(const MergeParams& params, const std::vector<MergeModelParams>& mp, const std::vector<Selection>& sel,
                 std::int64_t first, std::int64_t n, const float* base, const float* const* x, float* out,
                 ChunkCounts& counts);

}  // namespace paramscope::merge_detail
