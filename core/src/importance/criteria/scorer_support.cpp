#include <algorithm>
#include "importance/criteria/scorer_support.h"

#include <charconv>
#include <cstdlib>

#include "paramscope/error.h"

namespace paramscope::criteria {

std::span<float> scratch(int slot, std::size_t n) {
  thread_local std::vector<float> bufs[4];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return {b.data(), n};
}

const Tensor& base_tensor(const Tensor& weight, const CriterionInputs& in, const std::string& criterion) {
  if (!in.base) throw usage_error("criterion " + criterion + " needs a base checkpoint (--base)");
  const Tensor* b = in.base->find(weight.name());
  if (!b) throw usage_error(in.base->path().string() + ": no tensor '" + weight.name() + "' to compare with");
  if (b->shape() != weight.shape())
    throw usage_error(in.base->path().string() + ": tensor '" + weight.name() + "' is " + shape_string(b->shape()) +
                      " in the base but " + shape_string(weight.shape()) + " in the model");
  return *b;
}

const Tensor& stats_tensor(const Tensor& weight, const Checkpoint* stats, const std::string& kind,
                           const std::vector<Shape>& accepted, const std::string& criterion) {
  if (!stats)
    throw usage_error("criterion " + criterion + " needs a statistics file (--stats) with '<weight>@" + kind +
                      "' tensors");
  const std::string name = weight.name() + "@" + kind;
  const Tensor* t = stats->find(name);
  if (!t)
    throw usage_error(stats->path().string() + ": no statistics tensor '" + name + "' (criterion " + criterion + ")");
  if (std::find(accepted.begin(), accepted.end(), t->shape()) == accepted.end()) {
    std::string want;
    for (const auto& s : accepted) want += (want.empty() ? "" : " or ") + shape_string(s);
    throw usage_error(stats->path().string() + ": '" + name + "' is " + shape_string(t->shape()) + ", expected " + want);
  }
  return *t;
}

double inverse_samples(const Checkpoint& stats) {
  for (const auto& [k, v] : stats.metadata())
    if (k == "samples") {
      char* end = nullptr;
      const double n = std::strtod(v.c_str(), &end);
      if (end != v.c_str() && n > 0) return 1.0 / n;
    }
  return 1.0;
}

std::string param_text(const CriterionInputs& in, const CriterionInfo& info, const std::string& key) {
  if (auto it = in.params.find(key); it != in.params.end()) return it->second;
  return info.params.at(key);
}

double param_number(const CriterionInputs& in, const CriterionInfo& info, const std::string& key) {
  const std::string v = param_text(in, info, key);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0')
    throw usage_error("criterion " + info.name + ": parameter " + key + "=" + v + " is not a number");
  return d;
}

}  // namespace paramscope::criteria
