// What calibrate and eval share: resolving the model's input and output, and running batches of
// samples in parallel groups whose results are combined in batch order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "paramscope/calibration.h"

namespace paramscope::engine {

struct ClassifierPorts {
  std::string input;
  std::size_t output = 0;  ///< index into model.outputs()
};

/// throws Error(Usage) for an unknown input or output, or a model with several inputs and no
/// input named.
ClassifierPorts resolve_ports(const Model& model, const ClassifierOptions& options);

/// throws Error(Usage) for a set without samples, or labels that are not I64 with one row per
/// sample.
void check_samples(const SampleSet& data);

/// Samples [first, first + n) of data. throws Error(BadInput) if the reader returns another count.
Array read_batch(const SampleSet& data, std::int64_t first, std::int64_t n);

/// Runs work(batch index, first sample, count) for every batch of `batch` samples, in groups
/// of as many batches as the pool has threads run in parallel, then combine(batch index) for
/// each batch of the group in order. Progress in samples; cancellation between batches.
void for_each_batch(std::int64_t samples, std::int64_t batch, const JobControl& control,
                    const std::function<void(std::int64_t index, std::int64_t first, std::int64_t count)>& work,
                    const std::function<void(std::int64_t index)>& combine);

}  // namespace paramscope::engine
