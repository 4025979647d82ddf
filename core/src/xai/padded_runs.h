// Runs of any number of rows through a model whose input declares a fixed batch size (ONNX
// files exported without a dynamic batch axis, often 1): the rows go in chunks of exactly that
// size, the last one padded with zero rows whose results are dropped.
#pragma once

#include <cstdint>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/engine.h"
#include "paramscope/jobs.h"
#include "xai/target_score.h"

namespace paramscope::xai {

/// Rows [first, first + n) of xs followed by zero rows up to `fixed` rows.
Array padded_rows(const Array& xs, std::int64_t first, std::int64_t n, std::int64_t fixed);

/// The batch size the target's input declares, or 0 when it is free (symbolic or absent).
std::int64_t declared_batch(const engine::Model& model, const ResolvedTarget& t);

/// run_scores for rows of xs (F32), in chunks of `fixed` rows when fixed > 0 and differs from the
/// row count. Returns the score output with one row per row of xs. throws as run_scores, and
/// Error(Usage) (classes_of) if the output does not hold `fixed` rows of scores.
Array run_scores_padded(const engine::Model& model, const ResolvedTarget& t, const Array& xs, std::int64_t fixed,
                        const JobControl& control);

/// input_gradient for rows of xs (row r explains classes[r % classes.size()]), in chunks of
/// `fixed` rows as run_scores_padded. Returns dscore/dx of xs's shape.
Array input_gradient_padded(const engine::Model& model, const ResolvedTarget& t, const Array& xs,
                            const std::vector<std::int64_t>& classes, std::int64_t fixed, const JobControl& control);

}  // namespace paramscope::xai
