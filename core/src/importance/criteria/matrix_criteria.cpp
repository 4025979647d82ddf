// Per-matrix criteria: one value per weight matrix, from its norms or its singular values.
#include <cmath>

#include "importance/criteria/builtin_criteria.h"
#include "importance/criteria/scorer_support.h"
#include "paramscope/error.h"
#include "paramscope/spectral.h"

namespace paramscope::criteria {
namespace {

// Sum of squares of w (or of w - base when a base model is given), streamed.
double sum_squares(const Tensor& w, const Tensor* base) {
  constexpr std::int64_t kChunk = 1 << 16;
  double s = 0;
  for (std::int64_t first = 0; first < w.numel(); first += kChunk) {
    const auto n = static_cast<std::size_t>(std::min(kChunk, w.numel() - first));
    auto a = scratch(0, n);
    w.read_f32(first, a);
    if (base) {
      auto b = scratch(1, n);
      base->read_f32(first, b);
      for (std::size_t i = 0; i < n; ++i) a[i] -= b[i];
    }
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isnan(a[i])) s += static_cast<double>(a[i]) * a[i];
  }
  return s;
}

class NormalizedFrobenius final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i{"frobenius",
                                 "||W||_F / sqrt(numel)  (of W - W_base when --base is given)",
                                 "Liang et al. 2025, TriAdaptLoRA (normalized Frobenius norm as importance)",
                                 false,
                                 false,
                                 {},
                                 {}};
    return i;
  }
  MatrixScore matrix_score(const Tensor& w, const CriterionInputs& in) const override {
    const Tensor* b = in.base ? &base_tensor(w, in, info().name) : nullptr;
    const double ss = sum_squares(w, b);
    return {w.numel() ? std::sqrt(ss / static_cast<double>(w.numel())) : 0.0, {{"frobenius_norm", std::sqrt(ss)}}, {}};
  }
};

class WeightNorm final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i{"weight-norm",
                                 "||W||_F  (per layer: --granularity block --reduce l2)",
                                 "Pan et al. 2024, LISA (the skew of weight norms across layers)",
                                 false,
                                 false,
                                 {},
                                 {}};
    return i;
  }
  MatrixScore matrix_score(const Tensor& w, const CriterionInputs&) const override {
    return {std::sqrt(sum_squares(w, nullptr)), {}, {}};
  }
};

enum class Spectral { Norm, StableRank, EffectiveRank, Alpha, AlphaWeighted };

// Convolutions: one [out, in*kh*kw] matrix, or WeightWatcher's kh*kw pooled [out, in] slices.
const std::map<std::string, std::string> kConvParam = {{"conv", "flatten"}};

SpectralOptions spectral_options(const CriterionInputs& in, const CriterionInfo& info) {
  const std::string conv = param_text(in, info, "conv");
  if (conv == "flatten") return {ConvMatrices::Flatten};
  if (conv == "weightwatcher") return {ConvMatrices::WeightWatcher};
  throw usage_error("criterion " + info.name + ": conv=" + conv + " (use flatten or weightwatcher)");
}

template <Spectral S>
class SpectralCriterion final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i = [] {
      const char* ww = "Martin & Mahoney 2021, Implicit self-regularization in deep neural networks (WeightWatcher)";
      switch (S) {
        case Spectral::Norm:
          return CriterionInfo{"spectral-norm", "sigma_max(W)", ww, false, false, {}, kConvParam};
        case Spectral::StableRank:
          return CriterionInfo{
              "stable-rank", "||W||_F^2 / sigma_max^2", "Rudelson & Vershynin 2007; WeightWatcher", false, false, {},
              kConvParam};
        case Spectral::EffectiveRank:
          return CriterionInfo{"effective-rank",
                               "exp(H(p)), p_i = sigma_i / sum_j sigma_j",
                               "Roy & Vetterli 2007, The effective rank",
                               false,
                               false,
                               {},
                               kConvParam};
        case Spectral::Alpha:
          return CriterionInfo{"alpha",   "power-law exponent of the eigenvalues of W^T W (MLE, xmin by KS distance)",
                               ww,        false,
                               false,     {},
                               kConvParam};
        case Spectral::AlphaWeighted:
          return CriterionInfo{"alpha-weighted", "alpha * log10(lambda_max)", ww, false, false, {}, kConvParam};
      }
      return CriterionInfo{};
    }();
    return i;
  }
  MatrixScore matrix_score(const Tensor& w, const CriterionInputs& in) const override {
    if (w.shape().size() < 2) throw usage_error("criterion " + info().name + ": '" + w.name() + "' is not a matrix");
    SpectralMetrics m = spectral_metrics(w, spectral_options(in, info()));
    MatrixScore s;
    switch (S) {
      case Spectral::Norm:
        s.value = m.spectral_norm;
        break;
      case Spectral::StableRank:
        s.value = m.stable_rank;
        break;
      case Spectral::EffectiveRank:
        s.value = m.effective_rank;
        break;
      case Spectral::Alpha:
        s.value = m.alpha;
        break;
      case Spectral::AlphaWeighted:
        s.value = m.alpha_weighted;
        break;
    }
    // One SVD gives every metric: report them all.
    s.metrics = {{"spectral_norm", m.spectral_norm},
                 {"frobenius_norm", m.frobenius},
                 {"stable_rank", m.stable_rank},
                 {"effective_rank", m.effective_rank},
                 {"alpha", m.alpha},
                 {"alpha_weighted", m.alpha_weighted},
                 {"xmin", m.xmin},
                 {"ks_distance", m.ks_distance},
                 {"tail_size", static_cast<double>(m.tail_size)}};
    s.spectrum = std::move(m.singular_values);
    return s;
  }
};

}  // namespace

void add_matrix_criteria(CriterionRegistry& r) {
  r.add(std::make_unique<NormalizedFrobenius>());
  r.add(std::make_unique<WeightNorm>());
  r.add(std::make_unique<SpectralCriterion<Spectral::Norm>>());
  r.add(std::make_unique<SpectralCriterion<Spectral::StableRank>>());
  r.add(std::make_unique<SpectralCriterion<Spectral::EffectiveRank>>());
  r.add(std::make_unique<SpectralCriterion<Spectral::Alpha>>());
  r.add(std::make_unique<SpectralCriterion<Spectral::AlphaWeighted>>());
}

bool is_spectral(const Criterion& c) {
  const auto& n = c.info().name;
  return n == "spectral-norm" || n == "stable-rank" || n == "effective-rank" || n == "alpha" || n == "alpha-weighted";
}

}  // namespace paramscope::criteria
