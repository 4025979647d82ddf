// Method names, mergekit's defaults, parameter checks and the in-memory merge.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "merge/merge_kernel.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/merge.h"

namespace paramscope {
namespace {

struct MethodRow {
  MergeMethod method;
  std::string_view name;
  MergeMethodTraits traits;
};

// mergekit's merge_methods/registry.py: consensus, sparsification, default normalize / rescale.
constexpr std::array<MethodRow, 7> kMethods{{
    {MergeMethod::Linear, "linear", {SignConsensus::None, Sparsification::None, true, false, false}},
    {MergeMethod::TaskArithmetic, "task_arithmetic", {SignConsensus::None, Sparsification::None, false, false, true}},
    {MergeMethod::Ties, "ties", {SignConsensus::Sum, Sparsification::Magnitude, true, false, true}},
    {MergeMethod::DareLinear, "dare_linear", {SignConsensus::None, Sparsification::Random, false, true, true}},
    {MergeMethod::DareTies, "dare_ties", {SignConsensus::Sum, Sparsification::Random, false, true, true}},
    {MergeMethod::Breadcrumbs,
     "breadcrumbs",
     {SignConsensus::None, Sparsification::MagnitudeOutliers, false, false, true}},
    {MergeMethod::BreadcrumbsTies,
     "breadcrumbs_ties",
     {SignConsensus::Sum, Sparsification::MagnitudeOutliers, false, false, true}},
}};

const MethodRow& row(MergeMethod m) noexcept {
  for (const auto& r : kMethods)
    if (r.method == m) return r;
  return kMethods[0];
}

std::string num(double v) {
  nlohmann::json j = v;
  return j.dump();
}

}  // namespace

std::string_view merge_method_name(MergeMethod m) noexcept {
  return row(m).name;
}

std::optional<MergeMethod> merge_method_from_name(std::string_view name) noexcept {
  for (const auto& r : kMethods)
    if (r.name == name) return r.method;
  return std::nullopt;
}

std::string merge_method_names() {
  std::string s;
  for (const auto& r : kMethods) {
    if (!s.empty()) s += ", ";
    s += r.name;
  }
  return s;
}

MergeMethodTraits merge_method_traits(MergeMethod m) noexcept {
  return row(m).traits;
}

MergeParams default_merge_params(MergeMethod m) noexcept {
  const auto t = merge_method_traits(m);
  MergeParams p;
  p.method = m;
  p.normalize = t.default_normalize;
  p.rescale = t.default_rescale;
  p.consensus = t.consensus;
  return p;
}

bool dare_keep(std::uint64_t seed, std::size_t model, std::string_view tensor, std::int64_t element,
               double density) noexcept {
  return merge_detail::dare_keep_keyed(merge_detail::dare_key(seed, model, tensor), element, density);
}

namespace {
void check_model_params(const MergeParams& params, const std::vector<MergeModelParams>& mp) {
  if (mp.empty()) throw usage_error("merge: no models to merge");
  double wsum = 0;
  for (std::size_t i = 0; i < mp.size(); ++i) {
    const auto& p = mp[i];
    const std::string who = "merge: model " + std::to_string(i + 1) + ": ";
    if (!std::isfinite(p.weight)) throw usage_error(who + "weight " + num(p.weight) + " is not a finite number");
    if (!(p.density >= 0 && p.density <= 1))
      throw usage_error(who + "density " + num(p.density) + " is outside [0, 1]");
    if (!(p.gamma >= 0 && p.gamma <= 1)) throw usage_error(who + "gamma " + num(p.gamma) + " is outside [0, 1]");
    wsum += p.weight;
  }
  if (!std::isfinite(params.lambda)) throw usage_error("merge: lambda is not a finite number");
  if (params.method == MergeMethod::Linear && params.normalize && wsum == 0)
    throw usage_error("merge: linear with normalize: the weights sum to 0");
}
}  // namespace

void check_merge_params(const MergeParams& params, const std::vector<MergeInput>& models) {
  std::vector<MergeModelParams> mp;
  for (const auto& m : models) mp.push_back(m.params);
  check_model_params(params, mp);
}

std::vector<float> merge_tensor_values(const MergeParams& params, std::string_view tensor_name,
                                       std::span<const float> base, const std::vector<std::span<const float>>& models,
                                       const std::vector<MergeModelParams>& model_params, MergedTensorStats* stats) {
  check_model_params(params, model_params);
  if (models.size() != model_params.size()) throw usage_error("merge: one parameter set per model is needed");
  const bool linear = params.method == MergeMethod::Linear;
  const std::size_t n = linear ? models[0].size() : base.size();
  for (const auto& m : models)
    if (m.size() != n) throw usage_error("merge: tensor '" + std::string(tensor_name) + "': models differ in size");
  std::vector<merge_detail::Selection> sel;
  const auto numel = static_cast<std::int64_t>(n);
  for (std::size_t i = 0; i < models.size(); ++i) {
    std::vector<float> mags;
    const auto tau_mag = [&](std::int64_t first, std::span<float> out) {
      for (std::size_t j = 0; j < out.size(); ++j) {
        const auto k = static_cast<std::size_t>(first) + j;
        out[j] = merge_detail::selection_magnitude(models[i][k] - base[k]);
      }
    };
    const auto sp = merge_method_traits(params.method).sparsification;
    if (!linear && (sp == Sparsification::Magnitude || sp == Sparsification::MagnitudeOutliers) &&
        model_params[i].density < 1) {
      mags.resize(n);
      tau_mag(0, mags);
    }
    sel.push_back(merge_detail::make_selection(params, model_params[i], i, tensor_name, numel, mags, tau_mag));
  }
  std::vector<const float*> x;
  for (const auto& m : models) x.push_back(m.data());
  std::vector<float> out(n);
  merge_detail::ChunkCounts counts;
  merge_detail::merge_chunk(params, model_params, sel, 0, numel, base.data(), x.data(), out.data(), counts);
  if (stats) {
    stats->name = std::string(tensor_name);
    stats->numel = numel;
    stats->kept = counts.kept;
    stats->contributed = counts.contributed;
    stats->sign_conflicts = counts.conflicts;
    stats->copied = false;
  }
  return out;
}

std::string merge_recipe_json(const Checkpoint& base, const std::vector<MergeInput>& models,
                              const MergeParams& params) {
  nlohmann::ordered_json j;
  j["merge_method"] = merge_method_name(params.method);
  j["base_model"] = base.path().string();
  auto& ms = j["models"] = nlohmann::ordered_json::array();
  const auto traits = merge_method_traits(params.method);
  for (const auto& m : models) {
    nlohmann::ordered_json p;
    p["weight"] = m.params.weight;
    if (traits.sparsification != Sparsification::None) p["density"] = m.params.density;
    if (traits.sparsification == Sparsification::MagnitudeOutliers) p["gamma"] = m.params.gamma;
    ms.push_back({{"model", m.checkpoint ? m.checkpoint->path().string() : std::string()}, {"parameters", p}});
  }
  auto& p = j["parameters"];
  p["normalize"] = params.normalize;
  if (params.method != MergeMethod::Linear) p["lambda"] = params.lambda;
  if (traits.sparsification == Sparsification::Random) {
    p["rescale"] = params.rescale;
    p["seed"] = params.seed;
  }
  if (params.consensus != SignConsensus::None)
    p["consensus"] = params.consensus == SignConsensus::Sum ? "sum" : "count";
  return j.dump();
}

}  // namespace paramscope
