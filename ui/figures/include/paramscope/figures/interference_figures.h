// What the merge dashboard and `paramscope-cli interfere` draw, computed from an interference
// report without drawing (so the GUI and the CLI give the same figures, and tests can check the
// numbers alone), and the CLI's figure files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "paramscope/figures/line_chart.h"
#include "paramscope/figures/matrix_chart.h"
#include "paramscope/figures/profile_chart.h"
#include "paramscope/figures/scene.h"
#include "paramscope/interference.h"

namespace paramscope::figures {

/// A short name for a checkpoint path: the file's stem, or its folder's name when the file has a
/// generic name (model.safetensors, pytorch_model.bin, model-00001-of-00002.safetensors...) or
/// the path is a folder. Duplicates get " (2)", " (3)"... so that every label is unique.
std::vector<std::string> model_labels(const std::vector<std::string>& paths);

enum class PairMetric : std::uint8_t { Cosine, SignConflict, TopConflict, Jaccard, L2Distance, MagnitudeRatio };
inline constexpr PairMetric kPairMetrics[] = {PairMetric::Cosine,  PairMetric::SignConflict,
                                              PairMetric::TopConflict, PairMetric::Jaccard,
                                              PairMetric::L2Distance, PairMetric::MagnitudeRatio};
/// "cosine similarity", "sign conflict", ...
std::string_view pair_metric_title(PairMetric m) noexcept;
/// "cosine", "sign_conflict", "top_conflict", "jaccard", "l2", "magnitude_ratio".
std::string_view pair_metric_key(PairMetric m) noexcept;

/// The models x models matrix of a metric over stats (the model, a block or a tensor of the
/// report): the diagonal holds each model against itself (cosine 1, conflicts 0, Jaccard 1,
/// distance 0, ratio 1); the magnitude ratio's row a, column b is |tau_a| / |tau_b|.
MatrixData pair_matrix(const InterferenceReport& report, const InterferenceStats& stats, PairMetric metric);

/// Conflict and overlap per block (x: the report's blocks): sign conflict and top-k conflict of
/// all models together, and the mean over pairs of the top-k Jaccard and of the cosine.
struct BlockSeries {
  std::vector<std::string> block_labels;
  std::vector<ProfileSeries> series;
};
BlockSeries block_series(const InterferenceReport& report);

/// Per model, the fraction of its analysed entries in each log10 |tau| bin (x: bin centres).
/// Models whose deltas are all zero have no curve.
std::vector<LineSeries> magnitude_series(const InterferenceReport& report);

enum class ElementMapKind : std::uint8_t { Disagree, Dominant, Contributors, MergedDelta, ElectedSign };
/// "disagreeing models", "dominant model", "contributing models", "merged delta", "elected sign".
std::string_view element_map_title(ElementMapKind k) noexcept;

/// An element map as float values for the heatmap: counts, model indices (-1 where every delta
/// is 0 shows as NaN), the number of contributing models (popcount), the merged delta or the sign.
std::vector<float> element_map_values(const ElementInterference& maps, ElementMapKind kind);

/// Writes the report's figures into dir: similarity.{png,svg} (cosine), conflict.png (sign
/// conflict matrix), blocks.png (per-block series), magnitudes.png; returns the files written.
/// throws what Scene::save throws (Error(Unsupported) without OpenGL, Error(Io)).
std::vector<std::filesystem::path> write_interference_figures(const InterferenceReport& report,
                                                              const std::filesystem::path& dir,
                                                              const ExportOptions& options = {});

}  // namespace paramscope::figures
