// Attributions: which parts of an input made an ONNX model give a class its score. RISE
// (black-box, from masked copies of the input), DeepLIFT and DeepLIFT-SHAP (from the network's
// internals, summing exactly to the change in output), and the cheap gradient baselines beside
// them (gradient x input, Integrated Gradients, SmoothGrad); deletion/insertion curves that
// measure how faithful any of these maps is. Formulas and sources: docs/attributions.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/engine.h"
#include "paramscope/jobs.h"

namespace paramscope::xai {

/// What is explained: for each sample b of a batch, the score out[b, class_b] of one model output
/// of shape [batch, classes].
struct Target {
  std::string input;   ///< the model input the sample feeds; "" = the model's only input
  std::string output;  ///< the output with the class scores; "" = the first
  /// The class explained for each sample (one value: every sample); empty = each sample's top
  /// prediction.
  std::vector<std::int64_t> classes;
  /// true: explain softmax(out)[b, class_b] (RISE's probability); false: the raw score (a logit,
  /// as Captum explains).
  bool softmax = false;
};

/// A map per sample and what a reader needs to trust it.
struct Attribution {
  Array map;                           ///< F32: [batch, *input sample shape], or (RISE) [batch, *grid axes]
  std::vector<std::int64_t> classes;   ///< the class explained, per sample
  std::vector<double> score;           ///< f(x) per sample (the explained score)
  std::vector<double> baseline_score;  ///< f(baseline) per sample (methods with a baseline)
  /// Summation-to-delta: sum(map) - (f(x) - f(baseline)) per sample, for DeepLIFT (near zero)
  /// and Integrated Gradients (shrinks with steps); empty for the other methods.
  std::vector<double> delta;
};

/// The axes of an input that a grid, a blur or a deletion curve runs over ("spatial" axes), given
/// the input's full shape (batch first). requested empty: rank 4 [N,C,H,W] -> {2,3}; rank 3
/// [N,H,W] (a spectrogram, a grey image) -> {1,2}; rank 2 [N,F] (features, a sequence) -> {1};
/// rank 5 [N,C,D,H,W] -> {2,3,4}. NHWC images and [N,C,L] sequences name theirs ({1,2}, {2}).
/// throws Error(Usage) for a rank below 2 or a requested axis that is 0, repeated or out of range.
std::vector<int> spatial_axes(const std::vector<std::int64_t>& input_shape, const std::vector<int>& requested = {});

/// The reference input of DeepLIFT, Integrated Gradients and the faithfulness substrate.
struct Baseline {
  enum class Kind : std::uint8_t {
    Zeros,     ///< all zeros
    Constant,  ///< every element `value`
    Blur,      ///< the input blurred by a Gaussian of `sigma` samples over the spatial axes
    Mean,      ///< the mean of `data` over its first axis (a data set of samples)
    File,      ///< `data` itself: one sample, or one per sample of the batch
  };
  Kind kind = Kind::Zeros;
  double value = 0;
  double sigma = 5;
  Array data;
  std::vector<int> axes;  ///< spatial axes for Blur (see spatial_axes)
};

/// The baseline for a batch x, of x's shape and type F32.
/// throws Error(Usage) if data's shape fits neither one sample nor the batch, or sigma <= 0.
Array make_baseline(const Array& x, const Baseline& baseline);

// ---------------------------------------------------------------------------------------------
// RISE (Petsiuk, Das, Saenko, BMVC 2018)

struct RiseOptions {
  std::int64_t masks = 4000;  ///< N
  std::int64_t cells = 7;     ///< s: the grid is s x s (s cells along each spatial axis)
  double p = 0.5;             ///< probability that a cell is kept
  std::uint64_t seed = 0;     ///< mask i depends only on (seed, i, grid, input size)
  std::int64_t batch = 64;    ///< masked copies per forward run
  std::vector<int> axes;      ///< spatial axes (see spatial_axes); the mask is shared by the others
  /// Masks to use instead of generated ones: [N, *spatial sizes] (or [N, 1, *spatial sizes], as the
  /// RISE code saves them), any float, integer or bool type (values are used as they are, 0..1);
  /// N is the file's, `masks` is then ignored. p must still be given: the formula divides by it.
  std::optional<Array> mask_file;
};

/// The masks rise() generates, [n, *spatial sizes] F32 in 0..1: masks [first, first + n) of the
/// sequence for this seed (mask i depends only on seed, i, s, p and the sizes). As the RISE
/// paper's code: cell size c = ceil(size / s) per axis; a random binary grid of s cells per axis
/// (each kept with probability p) upsampled (bi/tri)linearly to (s + 1) * c samples per axis like
/// skimage's resize(order=1, mode='reflect'): half-sample centres, neighbours past the edge
/// mirrored (index -1 -> 1; torch's bilinear interpolate clamps there instead); then cropped to
/// the size at a random shift in [0, c) per axis. throws Error(Usage) for s < 1, p outside (0, 1],
/// no sizes, sizes < 1 or a negative range.
Array rise_masks(const std::vector<std::int64_t>& spatial_sizes, const RiseOptions& options, std::int64_t first,
                 std::int64_t n);

/// Called after each batch of masks with the map so far (normalised by the masks used so far, so
/// it converges to the final map) and the number of masks used, on the thread that called rise();
/// return false to stop early (the result then holds the map over the masks used).
using RiseProgress = std::function<bool(const Attribution& partial, std::int64_t masks_done)>;

/// saliency[b] = sum_i score(x_b * M_i) M_i / (N p), masks generated on the fly in batches
/// (memory independent of N) or read from options.mask_file. map: [batch, *spatial sizes].
/// throws Error(Usage) for invalid options or a mask file whose spatial sizes are not the
/// input's; what Model::run throws; Error(Cancelled).
Attribution rise(const engine::Model& model, const Array& x, const Target& target, const RiseOptions& options,
                 const RiseProgress& progress = {}, const JobControl& control = {});

// ---------------------------------------------------------------------------------------------
// DeepLIFT (Shrikumar, Greenside, Kundaje, ICML 2017) and DeepLIFT-SHAP (Lundberg & Lee 2017)

enum class DeepLiftRule : std::uint8_t {
  Rescale,       ///< m = Δy / Δx for every elementwise nonlinearity
  RevealCancel,  ///< positive and negative parts of Δx kept apart (the paper's section 3.5.3)
};

struct DeepLiftOptions {
  DeepLiftRule rule = DeepLiftRule::Rescale;
  /// Attribute to this value of the graph (an activation's name) instead of the model input:
  /// the map then has that activation's shape, multiplier x (a - a_baseline).
  std::string layer;
};

/// Attributions of target.score(x) - target.score(baseline), one baseline per sample (baseline
/// has x's shape; see make_baseline). delta holds the summation-to-delta check per sample.
/// throws Error(Usage) for an unknown layer or a baseline of another shape; Error(Unsupported)
/// naming a node whose operator DeepLIFT cannot pass through; what Model::forward throws;
/// Error(Cancelled).
Attribution deeplift(const engine::Model& model, const Array& x, const Array& baseline, const Target& target,
                     const DeepLiftOptions& options = {}, const JobControl& control = {});

/// DeepLIFT averaged over a set of baselines [M, *sample shape] (the expected-gradients view of
/// SHAP values): map = mean over baselines; score is f(x), baseline_score the mean of f(baseline),
/// delta the check against that mean. throws as deeplift, and Error(Usage) for an empty set.
Attribution deeplift_shap(const engine::Model& model, const Array& x, const Array& baselines, const Target& target,
                          const DeepLiftOptions& options = {}, const JobControl& control = {});

// ---------------------------------------------------------------------------------------------
// Gradient baselines

/// Gradient x input: x * d score / d x.
/// throws what Model::forward and Pass::backward throw.
Attribution gradient_x_input(const engine::Model& model, const Array& x, const Target& target,
                             const JobControl& control = {});

struct IntegratedGradientsOptions {
  std::int64_t steps = 50;
  enum class Method : std::uint8_t { GaussLegendre, RiemannTrapezoid, RiemannMiddle, RiemannLeft, RiemannRight };
  Method method = Method::GaussLegendre;  ///< Captum's default
  std::int64_t batch = 32;                ///< interpolated inputs per forward run
};

/// Integrated Gradients (Sundararajan, Taly, Yan 2017): (x - x0) * integral over a in [0,1] of
/// d score / d x at x0 + a (x - x0), by the chosen quadrature; delta is the completeness check.
/// baseline: x's shape, or one sample for all. Captum's points and weights, except that the
/// trapezoid's weights are 1/(steps - 1) (Captum's 1/steps give (steps - 1)/steps times the map).
/// throws Error(Usage) for steps < 1 (< 2 for the trapezoid), batch < 1 or a baseline of another
/// shape; what Model::forward and Pass::backward throw; Error(Cancelled).
Attribution integrated_gradients(const engine::Model& model, const Array& x, const Array& baseline,
                                 const Target& target, const IntegratedGradientsOptions& options = {},
                                 const JobControl& control = {});

struct SmoothGradOptions {
  std::int64_t samples = 50;
  double noise = 0.15;       ///< sigma as a fraction of (max - min) of each sample
  bool squared = false;      ///< SmoothGrad-Squared: mean of squared gradients
  bool times_input = false;  ///< multiply the mean gradient by x
  std::uint64_t seed = 0;
  std::int64_t batch = 32;
};

/// SmoothGrad (Smilkov et al. 2017): the mean gradient over noisy copies x + N(0, sigma^2), sigma =
/// noise * (max - min) of each sample (the paper's; Captum's NoiseTunnel takes an absolute stdev).
/// The noise depends only on (seed, sample index, copy, element), not on batch or thread count.
/// throws Error(Usage) for samples < 1, noise < 0 or batch < 1; what Model::forward and
/// Pass::backward throw; Error(Cancelled).
Attribution smoothgrad(const engine::Model& model, const Array& x, const Target& target,
                       const SmoothGradOptions& options = {}, const JobControl& control = {});

// ---------------------------------------------------------------------------------------------
// Faithfulness: deletion and insertion (Petsiuk et al. 2018, section 4.1)

struct CurveOptions {
  std::int64_t steps = 100;  ///< points after the start (each changes ~1/steps of the features)
  enum class Substrate : std::uint8_t { Zeros, Blur, Constant };
  Substrate deletion_substrate = Substrate::Zeros;  ///< what deleted features become
  Substrate insertion_substrate = Substrate::Blur;  ///< what the input starts as
  double sigma = 5;                                 ///< blur substrate
  double value = 0;                                 ///< constant substrate
  std::vector<int> axes;  ///< the features: positions over these axes (the rest move together)
  std::int64_t batch = 64;
  bool softmax = true;  ///< curves of the probability (as the paper)
};

struct Curve {
  std::vector<double> fraction;  ///< 0 .. 1, the share of features changed
  std::vector<double> score;     ///< the class score at each point
  double auc = 0;                ///< trapezoidal area over fraction
};

struct Faithfulness {
  std::vector<Curve> deletion, insertion;  ///< per sample
};

/// Deletion and insertion curves of maps for the batch x: features are ranked by the map's value
/// (highest first; ties by index), summed over the non-spatial axes when the map has x's shape.
/// target.classes fixes the class per sample (empty: the top prediction on x); options.softmax, not
/// target.softmax, chooses probability or raw score. Each step changes ceil(features / steps)
/// features (RISE's step), so the curve has ceil(features / step) + 1 points; fraction is the share
/// of features changed.
/// throws Error(Usage) if the map fits neither x's shape nor its spatial sizes; what Model::run
/// throws; Error(Cancelled).
Faithfulness faithfulness(const engine::Model& model, const Array& x, const Array& map, const Target& target,
                          const CurveOptions& options = {}, const JobControl& control = {});

}  // namespace paramscope::xai
