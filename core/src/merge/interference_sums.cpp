// Adding sums of tensors into blocks and the model, and the metrics formed from them.
#include <cmath>
#include <limits>

#include "paramscope/error.h"
#include "paramscope/interference.h"

namespace paramscope {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(std::int64_t num, std::int64_t den) noexcept {
  return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

PairSums& PairSums::operator+=(const PairSums& o) noexcept {
  dot += o.dot;
  sq_a += o.sq_a;
  sq_b += o.sq_b;
  sq_diff += o.sq_diff;
  both_nonzero += o.both_nonzero;
  sign_conflicts += o.sign_conflicts;
  top_both += o.top_both;
  top_either += o.top_either;
  top_both_conflicts += o.top_both_conflicts;
  return *this;
}

ModelSums& ModelSums::operator+=(const ModelSums& o) noexcept {
  sq += o.sq;
  abs += o.abs;
  nonzero += o.nonzero;
  top += o.top;
  top_conflicts += o.top_conflicts;
  return *this;
}

GroupSums& GroupSums::operator+=(const GroupSums& o) noexcept {
  entries += o.entries;
  multi_nonzero += o.multi_nonzero;
  sign_conflicts += o.sign_conflicts;
  top_multi += o.top_multi;
  top_conflicts += o.top_conflicts;
  return *this;
}

double GroupSums::sign_conflict() const noexcept {
  return ratio(sign_conflicts, multi_nonzero);
}

double GroupSums::top_conflict() const noexcept {
  return ratio(top_conflicts, top_multi);
}

double PairMetrics::cosine() const noexcept {
  if (sums.sq_a == 0 || sums.sq_b == 0) return kNaN;
  return sums.dot / std::sqrt(sums.sq_a * sums.sq_b);
}

double PairMetrics::l2_distance() const noexcept {
  return std::sqrt(sums.sq_diff);
}

double PairMetrics::sign_conflict() const noexcept {
  return ratio(sums.sign_conflicts, sums.both_nonzero);
}

double PairMetrics::top_conflict() const noexcept {
  return ratio(sums.top_both_conflicts, sums.top_both);
}

double PairMetrics::jaccard() const noexcept {
  return ratio(sums.top_both, sums.top_either);
}

double PairMetrics::magnitude_ratio() const noexcept {
  if (sums.sq_b == 0) return sums.sq_a == 0 ? kNaN : std::numeric_limits<double>::infinity();
  return std::sqrt(sums.sq_a) / std::sqrt(sums.sq_b);
}

InterferenceStats& InterferenceStats::operator+=(const InterferenceStats& o) {
  if (models.empty() && pairs.empty()) {  // an empty accumulator takes the other's layout
    models.resize(o.models.size());
    for (const auto& p : o.pairs) pairs.push_back({p.a, p.b, {}});
  }
  if (models.size() != o.models.size() || pairs.size() != o.pairs.size())
    throw usage_error("interference: adding statistics of different model counts");
  numel += o.numel;
  for (std::size_t i = 0; i < models.size(); ++i) models[i] += o.models[i];
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].a != o.pairs[i].a || pairs[i].b != o.pairs[i].b)
      throw usage_error("interference: adding statistics of different model pairs");
    pairs[i].sums += o.pairs[i].sums;
  }
  group += o.group;
  return *this;
}

}  // namespace paramscope
