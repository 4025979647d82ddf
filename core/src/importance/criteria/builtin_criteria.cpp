#include "importance/criteria/builtin_criteria.h"

#include <algorithm>

#include "paramscope/error.h"

namespace paramscope {

std::unique_ptr<TensorScorer> Criterion::scorer(const Tensor&, const CriterionInputs&) const {
  throw usage_error("criterion " + info().name +
                    " scores whole matrices, not single weights: use --granularity "
                    "tensor or block");
}

MatrixScore Criterion::matrix_score(const Tensor& weight, const CriterionInputs&) const {
  throw usage_error("criterion " + info().name + " scores single weights; '" + weight.name() +
                    "' gets its tensor value by reducing them (--granularity tensor --reduce sum|mean|max|l2)");
}

void CriterionRegistry::add(std::unique_ptr<Criterion> c) {
  criteria_.push_back(std::move(c));
}

const Criterion* CriterionRegistry::find(std::string_view name) const noexcept {
  for (const auto& c : criteria_)
    if (c->info().name == name) return c.get();
  return nullptr;
}

const Criterion& CriterionRegistry::get(std::string_view name) const {
  if (const Criterion* c = find(name)) return *c;
  std::string known;
  for (const auto& c : criteria_) known += (known.empty() ? "" : ", ") + c->info().name;
  throw usage_error("unknown criterion '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<const Criterion*> CriterionRegistry::all() const {
  std::vector<const Criterion*> out;
  for (const auto& c : criteria_) out.push_back(c.get());
  return out;
}

const CriterionRegistry& CriterionRegistry::builtin() {
  static const CriterionRegistry r = [] {
    CriterionRegistry reg;
    criteria::add_weight_criteria(reg);
    criteria::add_data_criteria(reg);
    criteria::add_contrast_criterion(reg);
    criteria::add_matrix_criteria(reg);
    return reg;
  }();
  return r;
}

}  // namespace paramscope
