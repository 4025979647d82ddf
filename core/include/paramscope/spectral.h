// Spectral metrics of weight matrices: singular values and what is computed from them, as
// WeightWatcher (Martin & Mahoney, "Implicit self-regularization in deep neural networks") and the
// rank literature define them.
//
// Singular values come from the eigenvalues of the Gram matrix of the smaller side (W^T W or
// W W^T, formed and diagonalised in double precision with OpenBLAS's LAPACK). Their absolute error
// is about 1e-8 * sigma_max, below what the float32 weights themselves resolve (a one-ulp change
// of every weight moves each sigma by up to 6e-8 * sigma_max), so every metric here is exact to
// the precision of its input.
//
// Threads: OpenBLAS already runs one matrix on every core, so the LAPACK part of concurrent calls
// is serialised inside; reading the tensor and fitting the power law run outside that lock.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "paramscope/tensor.h"

namespace paramscope {

/// How a tensor of rank > 2 becomes matrices.
enum class ConvMatrices : std::uint8_t {
  /// One matrix [out, in*kh*kw] (the rank literature's view). A rank-4 tensor whose two leading
  /// dimensions are smaller than its two trailing ones (Keras's [kh, kw, in, out]) becomes
  /// [kh*kw*in, out], which has the same singular values as [out, in*kh*kw]. Other ranks:
  /// [shape[0], product of the rest].
  Flatten,
  /// WeightWatcher's default for Conv2D (pool=True, conv2d_norm=True): the kh*kw matrices
  /// [out, in] of a rank-4 tensor, one per kernel position, whose eigenvalues are pooled into one
  /// spectral density; the eigenvalues handed to the fit are those of W / sqrt(2), as
  /// WeightWatcher scales conv layers. Other ranks are treated as Flatten.
  WeightWatcher,
};

struct SpectralOptions {
  ConvMatrices conv = ConvMatrices::Flatten;
};

struct SpectralMetrics {
  std::int64_t rows = 0, cols = 0;      ///< of each matrix analysed (see ConvMatrices)
  std::int64_t matrices = 1;            ///< how many matrices were pooled (kh*kw for WeightWatcher conv)
  std::vector<double> singular_values;  ///< descending, pooled over the matrices
  double frobenius = 0;                 ///< ||W||_F of the whole tensor
  double spectral_norm = 0;             ///< sigma_max (WeightWatcher's "spectral_norm" column is sigma_max^2)
  double stable_rank = 0;               ///< ||W||_F^2 / sigma_max^2; 0 for a zero matrix
  double effective_rank = 0;  ///< exp(H(p)), p_i = sigma_i / sum sigma (Roy & Vetterli 2007); 0 for a zero matrix
  /// Power-law fit of the empirical spectral density of the eigenvalues lambda_i = sigma_i^2 of
  /// W^T W, as WeightWatcher 0.7's default fit does it (see fit_power_law). All zero when there
  /// is no fit.
  double alpha = 0, xmin = 0, ks_distance = 0;
  double alpha_weighted = 0;   ///< alpha * log10(lambda_max)
  std::int64_t tail_size = 0;  ///< eigenvalues >= xmin (WeightWatcher's num_pl_spikes)
};

/// Singular values (descending) of a row-major rows x cols matrix.
/// throws Error(Usage) if rows * cols != matrix.size(), if a value is NaN or infinite, or if the
/// smaller side exceeds 16384 (its Gram matrix would take more than 2 GiB).
std::vector<double> singular_values(std::span<const float> matrix, std::int64_t rows, std::int64_t cols);

/// Metrics of a tensor with >= 2 dimensions, read through Tensor::to_f32() (bf16, f16, ... work).
/// A tensor with a zero dimension gives all-zero metrics.
/// throws Error(Usage) for tensors of rank < 2 or with NaN/Inf values (naming the tensor), and what
/// reading the tensor throws.
SpectralMetrics spectral_metrics(const Tensor& tensor, const SpectralOptions& options = {});

/// Eigenvalues at or below this are left out of the power-law fit (WeightWatcher's EVALS_THRESH).
inline constexpr double kPowerLawEigenvalueFloor = 1e-5;

/// Only the fit, from eigenvalues (any order); sets alpha, xmin, ks_distance, alpha_weighted and
/// tail_size of out. A faithful port of WeightWatcher 0.7's default (WWFit, pl_package='ww',
/// xmax=None, fix_fingers=False): the eigenvalues above kPowerLawEigenvalueFloor are sorted; every
/// one but the largest is tried as xmin, with the continuous MLE
/// alpha = 1 + n / sum_{x >= xmin} ln(x / xmin) over the n values from xmin up, and the
/// Kolmogorov-Smirnov distance D = max_k |1 - (x_k / xmin)^(1 - alpha) - k / n|; the xmin with the
/// smallest D wins (the first on ties). alpha_weighted = alpha * log10(max eigenvalue).
/// Needs at least 2 eigenvalues above the floor and a finite alpha, else leaves those fields zero
/// (WeightWatcher reports alpha = -1 then).
void fit_power_law(std::vector<double> eigenvalues, SpectralMetrics& out);

}  // namespace paramscope
