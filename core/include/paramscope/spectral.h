// Spectral metrics of weight matrices: singular values and what is computed from them, as
// WeightWatcher (Martin & Mahoney, "Implicit self-regularization in deep neural networks") and the
// rank literature define them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "paramscope/tensor.h"

namespace paramscope {

struct SpectralMetrics {
  std::int64_t rows = 0, cols = 0;   ///< of the matrix analysed (conv weights: [out, in*kh*kw])
  std::vector<double> singular_values;  ///< descending
  double frobenius = 0;              ///< ||W||_F
  double spectral_norm = 0;          ///< sigma_max
  double stable_rank = 0;            ///< ||W||_F^2 / ||W||_2^2
  double effective_rank = 0;         ///< exp(H(p)), p_i = sigma_i / sum sigma (Roy & Vetterli 2007)
  /// Power-law fit of the empirical spectral density of the eigenvalues lambda_i = sigma_i^2 of
  /// W^T W, as WeightWatcher fits it (MLE alpha, xmin chosen by the Kolmogorov-Smirnov distance).
  double alpha = 0, xmin = 0, ks_distance = 0;
  double alpha_weighted = 0;         ///< alpha * log10(lambda_max)
  std::int64_t tail_size = 0;        ///< eigenvalues >= xmin used in the fit
};

/// Singular values (descending) of a row-major matrix. throws Error(Usage) if sizes mismatch.
std::vector<double> singular_values(std::span<const float> matrix, std::int64_t rows, std::int64_t cols);

/// Metrics of a tensor with >= 2 dimensions (viewed as [shape[0], product of the rest]).
/// throws Error(Usage) for tensors of rank < 2, and what reading the tensor throws.
SpectralMetrics spectral_metrics(const Tensor& tensor);

/// Only the fit, from eigenvalues (any order). Needs at least 3 positive eigenvalues, else zeros.
void fit_power_law(std::vector<double> eigenvalues, SpectralMetrics& out);

}  // namespace paramscope
