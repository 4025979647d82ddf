// Method names, mergekit's defaults, per-tensor settings, parameter checks and the in-memory merge.
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

// mergekit's merge_methods/registry.py: consensus, sparsification, default normalize / rescale;
// then PEFT's magnitude_prune, PCB and importance-weighted merging (normalize has no effect on
// the last two: their formulas divide by their own sums).
constexpr std::array<MethodRow, 10> kMethods{{
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
    {MergeMethod::MagnitudePrune,
     "magnitude_prune",
     {SignConsensus::None, Sparsification::Magnitude, false, false, true}},
    {MergeMethod::Pcb, "pcb", {SignConsensus::None, Sparsification::None, false, false, true}},
    {MergeMethod::ImportanceWeighted,
     "importance_weighted",
     {SignConsensus::None, Sparsification::None, false, false, true}},
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

// A setting as mergekit's YAML spells it: a number, a list, or a list of {filter, value}.
nlohmann::ordered_json setting_json(const MergeSetting& s) {
  const auto value = [](const std::vector<double>& v) {
    return v.size() == 1 ? nlohmann::ordered_json(v[0]) : nlohmann::ordered_json(v);
  };
  if (!s.filtered) return s.entries.empty() ? nlohmann::ordered_json() : value(s.entries[0].values);
  auto a = nlohmann::ordered_json::array();
  for (const auto& e : s.entries) {
    nlohmann::ordered_json o;
    if (e.filter) o["filter"] = *e.filter;
    o["value"] = value(e.values);
    a.push_back(std::move(o));
  }
  return a;
}

}  // namespace

std::string_view merge_method_name(MergeMethod m) noexcept {
  return row(m).name;
}

std::optional<MergeMethod> merge_method_from_name(std::string_view name) noexcept {
  for (const auto& r : kMethods)
    if (r.name == name) return r.method;
  if (name == "fisher") return MergeMethod::ImportanceWeighted;
  return std::nullopt;
}

std::string merge_method_names() {
  std::string s;
  for (const auto& r : kMethods) {
    if (!s.empty()) s += ", ";
    s += r.name;
  }
  return s + ", fisher";
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

MergeSetting MergeSetting::scalar(double v) {
  MergeSetting s;
  s.entries.push_back({std::nullopt, {v}});
  return s;
}

MergeSetting MergeSetting::gradient(std::vector<double> values) {
  MergeSetting s;
  s.entries.push_back({std::nullopt, std::move(values)});
  return s;
}

std::optional<double> MergeSetting::resolve(std::string_view tensor, double t) const {
  for (const auto& e : entries) {
    if (e.filter && *e.filter != "*" && (tensor.empty() || tensor.find(*e.filter) == std::string_view::npos))
      continue;
    const auto& v = e.values;
    if (v.empty()) return std::nullopt;
    // mergekit: scaled = t * (len - 1), i0 = int(scaled), linear between v[i0] and v[i0 + 1].
    const double scaled = std::clamp(t, 0.0, 1.0) * static_cast<double>(v.size() - 1);
    const auto i0 = static_cast<std::size_t>(scaled);
    const std::size_t i1 = std::min(v.size() - 1, i0 + 1);
    const double frac = scaled - static_cast<double>(i0);
    return (1 - frac) * v[i0] + frac * v[i1];
  }
  return std::nullopt;
}

std::vector<double> merge_layer_fractions(const Checkpoint& checkpoint) {
  const Hierarchy& h = checkpoint.hierarchy();
  std::size_t layers = 0;
  for (const auto& b : h.blocks()) layers += b.index >= 0 ? 1 : 0;
  std::vector<double> t(checkpoint.tensors().size(), 1.0);
  std::size_t k = 0;
  bool seen_layer = false;
  for (const auto& b : h.blocks()) {
    double v = 0;
    if (b.index >= 0) {
      v = layers > 1 ? static_cast<double>(k) / static_cast<double>(layers - 1) : 1.0;
      ++k;
      seen_layer = true;
    } else {
      v = seen_layer ? 1.0 : 0.0;
    }
    for (const std::size_t i : b.tensors) {
      if (i >= t.size()) continue;
      // Tensors outside any block: embeddings come first (mergekit's pre-weights), the rest last.
      if (b.name.empty()) v = h.place(i).kind == ModuleKind::Embedding || layers == 0 ? 0.0 : 1.0;
      t[i] = v;
    }
  }
  return t;
}

namespace {

std::optional<double> lookup(const MergeSettings& s, std::string_view key, std::string_view tensor, double t) {
  const auto it = s.find(key);
  return it == s.end() ? std::nullopt : it->second.resolve(tensor, t);
}

}  // namespace

void resolve_tensor_params(const MergeParams& params, const std::vector<MergeInput>& models, std::string_view tensor,
                           double t, MergeParams& out, std::vector<MergeModelParams>& out_models) {
  out = params;
  out.lambda = lookup(params.settings, "lambda", tensor, t).value_or(params.lambda);
  out.pcb_ratio = lookup(params.settings, "pcb_ratio", tensor, t).value_or(params.pcb_ratio);
  if (const auto v = lookup(params.settings, "normalize", tensor, t)) out.normalize = *v != 0;
  if (const auto v = lookup(params.settings, "rescale", tensor, t)) out.rescale = *v != 0;
  out_models.clear();
  for (std::size_t i = 0; i < models.size(); ++i) {
    MergeModelParams p = models[i].params;
    const auto pick = [&](const char* key, double fallback) {
      if (const auto v = lookup(models[i].settings, key, tensor, t)) return *v;
      return lookup(params.settings, key, tensor, t).value_or(fallback);
    };
    p.weight = pick("weight", p.weight);
    p.density = pick("density", p.density);
    p.gamma = pick("gamma", p.gamma);
    if (std::isnan(p.weight))
      throw usage_error("merge: model " + std::to_string(i + 1) + ": no 'weight' for tensor '" + std::string(tensor) +
                        "' (no filter matches it and there is no default entry)");
    out_models.push_back(p);
  }
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
  if (!(params.pcb_ratio >= 0 && params.pcb_ratio <= 1))
    throw usage_error("merge: pcb_ratio " + num(params.pcb_ratio) + " is outside [0, 1]");
  if (params.method == MergeMethod::ImportanceWeighted && params.criterion.empty())
    throw usage_error("merge: importance_weighted needs a criterion (fisher, magnitude, delta, wanda, ...)");
  if (params.method == MergeMethod::Linear && params.normalize && wsum == 0)
    throw usage_error("merge: linear with normalize: the weights sum to 0");
}
}  // namespace

void check_merge_params(const MergeParams& params, const std::vector<MergeInput>& models, const Checkpoint* base) {
  if (!base) {
    std::vector<MergeModelParams> mp;
    for (const auto& m : models) mp.push_back(m.params);
    check_model_params(params, mp);
    return;
  }
  const auto t = merge_layer_fractions(*base);
  MergeParams p;
  std::vector<MergeModelParams> mp;
  for (std::size_t i = 0; i < base->tensors().size(); ++i) {
    const std::string& name = base->tensors()[i].name();
    const auto& info = dtype_info(base->tensors()[i].dtype());
    if (!(info.is_float && info.readable)) continue;  // copied from the base: no parameters
    resolve_tensor_params(params, models, name, t[i], p, mp);
    try {
      check_model_params(p, mp);
    } catch (const Error& e) {
      throw usage_error(std::string(e.what()) + " (tensor '" + name + "')");
    }
  }
}

std::vector<float> merge_tensor_values(const MergeParams& params, std::string_view tensor_name,
                                       std::span<const float> base, const std::vector<std::span<const float>>& models,
                                       const std::vector<MergeModelParams>& model_params, MergedTensorStats* stats,
                                       const std::vector<std::span<const float>>& importance) {
  check_model_params(params, model_params);
  if (models.size() != model_params.size()) throw usage_error("merge: one parameter set per model is needed");
  if (!importance.empty() && importance.size() != models.size())
    throw usage_error("merge: one importance map per model is needed");
  const bool linear = params.method == MergeMethod::Linear;
  const std::size_t n = linear ? models[0].size() : base.size();
  for (const auto& m : models)
    if (m.size() != n) throw usage_error("merge: tensor '" + std::string(tensor_name) + "': models differ in size");
  for (const auto& m : importance)
    if (m.size() != n) throw usage_error("merge: tensor '" + std::string(tensor_name) + "': importance map size");
  std::vector<merge_detail::Selection> sel;
  const auto numel = static_cast<std::int64_t>(n);
  if (params.method == MergeMethod::Pcb) {
    const auto tau = [&](std::size_t i, std::int64_t first, std::span<float> out) {
      for (std::size_t j = 0; j < out.size(); ++j) {
        const auto k = static_cast<std::size_t>(first) + j;
        out[j] = models[i][k] - base[k];
      }
    };
    sel = merge_detail::make_pcb_selections(params, models.size(), numel, tau,
                                            [](std::size_t count, const std::function<void(std::size_t, std::size_t)>& f) {
                                              f(0, count);
                                            });
  }
  for (std::size_t i = 0; i < models.size() && params.method != MergeMethod::Pcb; ++i) {
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
  std::vector<const float*> imp;
  for (const auto& m : importance) imp.push_back(m.data());
  std::vector<float> out(n);
  merge_detail::ChunkCounts counts;
  merge_detail::merge_chunk(params, model_params, sel, 0, numel, base.data(), x.data(), out.data(), counts, nullptr,
                            imp.empty() ? nullptr : imp.data());
  if (stats) {
    stats->params = model_params;
    stats->lambda = params.lambda;
    stats->pcb_ratio = params.pcb_ratio;
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
    for (const auto& [k, v] : m.settings) p[k] = setting_json(v);
    nlohmann::ordered_json e = {{"model", m.checkpoint ? m.checkpoint->path().string() : std::string()},
                                {"parameters", p}};
    if (m.stats) e["stats"] = m.stats->path().string();
    ms.push_back(std::move(e));
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
  if (params.method == MergeMethod::Pcb) p["pcb_ratio"] = params.pcb_ratio;
  if (params.method == MergeMethod::ImportanceWeighted) {
    p["criterion"] = params.criterion;
    if (!params.criterion_params.empty()) p["criterion_params"] = params.criterion_params;
  }
  for (const auto& [k, v] : params.settings) p[k] = setting_json(v);
  return j.dump();
}

}  // namespace paramscope
