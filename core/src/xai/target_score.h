// What every attribution method shares: which input and output a Target names, the class
// explained per sample, its score, and the seed that differentiates that score.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/attribution.h"
#include "paramscope/engine.h"

namespace paramscope::xai {

struct ResolvedTarget {
  std::string input;       ///< the input fed
  std::size_t output = 0;  ///< index into model.outputs()
  std::string output_name;
  bool softmax = false;
  std::vector<std::int64_t> fixed;  ///< Target::classes as given
};

/// throws Error(Usage) for an unknown input or output, or several inputs and none named.
ResolvedTarget resolve_target(const engine::Model& model, const Target& target);

/// The class scores of a batch: out must hold `batch` rows of K scores ([batch, K], or any shape
/// of batch * K elements with the batch first). throws Error(Usage) naming the output otherwise.
std::int64_t classes_of(const Array& out, std::int64_t batch, const ResolvedTarget& t);

/// The explained class per sample: the fixed ones (one value repeated, or one per sample), else
/// each row's argmax. throws Error(Usage) for a class out of range or a count that is neither 1
/// nor batch.
std::vector<std::int64_t> choose_classes(const Array& out, std::int64_t batch, const ResolvedTarget& t);

/// The explained score of row r for class c: the raw score or its softmax probability.
double row_score(const float* row, std::int64_t classes, std::int64_t c, bool softmax);

/// score per row of out, for classes[row % classes.size()] (rows may be copies of fewer samples).
std::vector<double> scores(const Array& out, const std::vector<std::int64_t>& classes, const ResolvedTarget& t);

/// d(sum of the explained scores)/d(out): one-hot rows, or the softmax row's Jacobian row.
Array score_seed(const Array& out, const std::vector<std::int64_t>& classes, const ResolvedTarget& t);

/// Runs the model on x (F32, converted to the input's type check by the engine) and returns the
/// score output.
Array run_scores(const engine::Model& model, const ResolvedTarget& t, const Array& x, const JobControl& control);

/// d(sum over rows of score)/d x for a batch x whose row r explains classes[r % classes.size()];
/// with the scores of the rows when wanted.
Array input_gradient(const engine::Model& model, const ResolvedTarget& t, const Array& x,
                     const std::vector<std::int64_t>& classes, std::vector<double>* row_scores,
                     const JobControl& control);

/// `copies` copies of row `row` of x, stacked. throws Error(Usage) for a row outside x.
Array repeat_rows(const Array& x, std::int64_t row, std::int64_t copies);

}  // namespace paramscope::xai
