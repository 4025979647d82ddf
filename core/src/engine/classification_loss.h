// Cross-entropy of class scores against labels, and its gradient: the loss calibrate
// differentiates and eval reports.
#pragma once

#include <cstdint>
#include <optional>

#include "paramscope/array.h"
#include "paramscope/calibration.h"

namespace paramscope::engine {

struct LossTerms {
  double loss_sum = 0;         ///< summed over labelled positions
  std::int64_t positions = 0;  ///< labelled positions
  std::int64_t classes = 0;
  std::int64_t correct = 0;                     ///< argmax == label
  std::int64_t top5 = 0;                        ///< label among the five highest
  std::vector<std::int64_t> predicted, labels;  ///< per position (label -1: ignored)
  std::optional<Array> seed;                    ///< d(mean loss)/d(scores), when asked for
};

/// scores: F32 [batch, ..., classes]; labels: I64 of the scores' shape without the class axis
/// ([batch] for [batch, classes]), or nullopt to use the argmax. first_sample numbers samples in
/// messages. throws Error(Usage) for a label shape that does not fit or a class out of range.
LossTerms cross_entropy(const Array& scores, OutputKind kind, const std::optional<Array>& labels,
                        std::int64_t first_sample, bool with_seed);

}  // namespace paramscope::engine
