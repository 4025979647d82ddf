// Streaming summary statistics of every tensor of a checkpoint.
#pragma once

#include <cstdint>
#include <vector>

#include "paramscope/checkpoint.h"
#include "paramscope/jobs.h"

namespace paramscope {

/// Over the finite values of a tensor; NaN and ±Inf are counted, not included.
struct TensorStats {
  std::int64_t finite = 0;
  std::int64_t nan = 0;
  std::int64_t inf = 0;
  double min = 0, max = 0;  ///< 0 when there are no finite values
  double mean = 0;
  double std = 0;           ///< population standard deviation (numpy's default, ddof=0)
  double abs_mean = 0;

  /// Chan et al.'s pairwise combination, so chunks can be reduced in any grouping.
  void merge(const TensorStats& other) noexcept;
};

/// Statistics of one block of float values.
TensorStats stats_of(const float* values, std::int64_t count) noexcept;

/// Statistics of every tensor in checkpoint.tensors() (same order), streamed in chunks on the
/// pool with bounded memory; progress is counted in elements.
/// throws Error(Cancelled) if control.cancel fires, and whatever Tensor::read_f32 throws.
std::vector<TensorStats> compute_stats(const Checkpoint& checkpoint, ThreadPool& pool,
                                       const JobControl& control = {});

}  // namespace paramscope
