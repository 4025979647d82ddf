// Contrast of two importance maps: what matters for data A once what matters for general data B
// is removed. MathNeuro (Christ et al. 2024) keeps the parameters in the top-k of A (Wanda on math
// data) that are not in the top-k of B (Wanda on general data), per output row; source-shielded
// updates and similar methods use the ratio A / B.
#include <algorithm>
#include <cmath>
#include <limits>

#include "importance/criteria/builtin_criteria.h"
#include "importance/criteria/scorer_support.h"
#include "paramscope/error.h"

namespace paramscope::criteria {
namespace {

// The k largest of v with ties at the boundary taken in index order (the rule masks use too):
// element i is kept iff v[i] > value, or v[i] == value and i <= last_tie. NaN is never kept.
struct TopK {
  float value = std::numeric_limits<float>::infinity();
  std::int64_t last_tie = -1;
  bool keeps(float x, std::int64_t i) const { return x > value || (x == value && i <= last_tie); }
};

TopK select_topk(std::span<const float> v, std::int64_t k) {
  TopK r;
  if (k <= 0) return r;
  std::vector<float> sorted;
  sorted.reserve(v.size());
  for (float x : v)
    if (!std::isnan(x)) sorted.push_back(x);
  if (sorted.empty()) return r;
  k = std::min<std::int64_t>(k, static_cast<std::int64_t>(sorted.size()));
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<float>());
  r.value = sorted[static_cast<std::size_t>(k - 1)];
  std::int64_t above = 0;
  for (float x : v) above += x > r.value;
  std::int64_t ties = k - above;
  for (std::size_t i = 0; i < v.size() && ties > 0; ++i)
    if (v[i] == r.value) {
      r.last_tie = static_cast<std::int64_t>(i);
      --ties;
    }
  return r;
}

enum class Mode { TopK, Ratio };

class ContrastScorer final : public TensorScorer {
 public:
  ContrastScorer(const Tensor& w, std::unique_ptr<TensorScorer> a, std::unique_ptr<TensorScorer> b, Mode mode,
                 double top, bool per_row, float eps)
      : w_(w), a_(std::move(a)), b_(std::move(b)), mode_(mode), top_(top), per_row_(per_row), eps_(eps) {
    row_ = per_row_ && !w.shape().empty() && w.shape()[0] > 0 ? w.numel() / w.shape()[0] : w.numel();
    if (mode_ == Mode::TopK && !per_row_) {
      // One threshold per tensor, from the whole tensor's scores.
      std::vector<float> wv = w.to_f32(), av(wv.size()), bv(wv.size());
      a_->score(0, wv, av);
      b_->score(0, wv, bv);
      const auto k = static_cast<std::int64_t>(std::llround(top_ * static_cast<double>(wv.size())));
      ta_ = select_topk(av, k);
      tb_ = select_topk(bv, k);
    }
  }

  void score(std::int64_t first, std::span<const float> w, std::span<float> out) const override {
    auto a = scratch(1, w.size()), b = scratch(2, w.size());
    a_->score(first, w, a);
    b_->score(first, w, b);
    if (mode_ == Mode::Ratio) {
      for (std::size_t i = 0; i < w.size(); ++i) out[i] = a[i] / (b[i] + eps_);
      return;
    }
    if (!per_row_) {
      for (std::size_t i = 0; i < w.size(); ++i) {
        const std::int64_t p = first + static_cast<std::int64_t>(i);
        out[i] = ta_.keeps(a[i], p) && !tb_.keeps(b[i], p) ? a[i] : 0.0f;
      }
      return;
    }
    // Per output row: each row overlapping the range is scored whole to find its top-k.
    const std::int64_t end = first + static_cast<std::int64_t>(w.size());
    const auto k = static_cast<std::int64_t>(std::llround(top_ * static_cast<double>(row_)));
    for (std::int64_t r0 = first / row_ * row_; r0 < end; r0 += row_) {
      auto rw = scratch(3, static_cast<std::size_t>(row_));
      w_.read_f32(r0, rw);
      std::vector<float> ra(static_cast<std::size_t>(row_)), rb(static_cast<std::size_t>(row_));
      a_->score(r0, rw, ra);
      b_->score(r0, rw, rb);
      const TopK ta = select_topk(ra, k), tb = select_topk(rb, k);
      for (std::int64_t p = std::max(first, r0); p < std::min(end, r0 + row_); ++p) {
        const auto j = static_cast<std::size_t>(p - r0);
        out[static_cast<std::size_t>(p - first)] = ta.keeps(ra[j], p - r0) && !tb.keeps(rb[j], p - r0) ? ra[j] : 0.0f;
      }
    }
  }

 private:
  const Tensor& w_;
  std::unique_ptr<TensorScorer> a_, b_;
  Mode mode_;
  double top_;
  bool per_row_;
  float eps_;
  std::int64_t row_ = 1;
  TopK ta_, tb_;
};

class Contrast final : public Criterion {
 public:
  const CriterionInfo& info() const noexcept override {
    static const CriterionInfo i{
        "contrast",
        "mode=topk: A if A in top-k(A) and B not in top-k(B) else 0; mode=ratio: A / (B + eps); "
        "A = <of> on --stats, B = <of> on --contrast-stats",
        "Christ et al. 2024, Math Neurosurgery (MathNeuro); source-shielded updates (SSU)",
        true,
        false,
        {},
        {{"of", "wanda"}, {"mode", "topk"}, {"top", "0.1"}, {"scope", "row"}, {"eps", "1e-8"}}};
    return i;
  }
  std::unique_ptr<TensorScorer> scorer(const Tensor& w, const CriterionInputs& in) const override {
    const std::string of = param_text(in, info(), "of");
    if (of == "contrast") throw usage_error("criterion contrast: of=contrast would contrast itself");
    const Criterion& inner = CriterionRegistry::builtin().get(of);
    if (!inner.info().elementwise) throw usage_error("criterion contrast: of=" + of + " is not element-wise");
    if (!in.contrast_stats && !inner.info().needs_stats.empty())
      throw usage_error(
          "criterion contrast: needs --contrast-stats (statistics of the data whose importance is removed)");
    CriterionInputs general = in;
    general.stats = in.contrast_stats;
    const std::string mode = param_text(in, info(), "mode"), scope = param_text(in, info(), "scope");
    if (mode != "topk" && mode != "ratio")
      throw usage_error("criterion contrast: mode must be topk or ratio, not " + mode);
    if (scope != "row" && scope != "tensor")
      throw usage_error("criterion contrast: scope must be row or tensor, not " + scope);
    const double top = param_number(in, info(), "top");
    if (!(top >= 0 && top <= 1)) throw usage_error("criterion contrast: top must be a fraction in [0, 1]");
    return std::make_unique<ContrastScorer>(w, inner.scorer(w, in), inner.scorer(w, general),
                                            mode == "topk" ? Mode::TopK : Mode::Ratio, top, scope == "row",
                                            static_cast<float>(param_number(in, info(), "eps")));
  }
};

}  // namespace

void add_contrast_criterion(CriterionRegistry& r) {
  r.add(std::make_unique<Contrast>());
}

}  // namespace paramscope::criteria
