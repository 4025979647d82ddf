#include "merge_recipe.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "paramscope/error.h"

namespace paramscope::cli {
namespace fs = std::filesystem;
namespace {

class RecipeParser {
 public:
  explicit RecipeParser(fs::path file) : file_(std::move(file)), dir_(file_.parent_path()) {}

  MergeRecipe parse(const YAML::Node& root) {
    if (!root.IsMap()) fail("", "a recipe is a mapping (merge_method, base_model, models, parameters, dtype)");
    static const std::set<std::string> keys = {"merge_method", "base_model", "models",
                                               "parameters",   "dtype",      "out_dtype"};
    check_keys(root, keys, "");
    MergeRecipe r;
    r.file = file_;
    const YAML::Node method = root["merge_method"];
    if (!method) fail("", "missing 'merge_method' (" + merge_method_names() + ")");
    const std::string name = text(method, "merge_method");
    const auto m = merge_method_from_name(name);
    if (!m) fail("merge_method", "unknown merge method '" + name + "' (ParamScope has " + merge_method_names() + ")");
    r.params = default_merge_params(*m);
    if (name == "fisher") r.params.criterion = "fisher";
    // mergekit's methods require a weight; PCB and importance-weighted merging default it to 1.
    const bool weight_required = *m != MergeMethod::Pcb && *m != MergeMethod::ImportanceWeighted;
    if (const YAML::Node b = root["base_model"]) r.base = path(b, "base_model");
    if (!r.base && merge_method_traits(*m).uses_base) fail("", "merge method '" + name + "' needs a 'base_model'");

    // Global parameters: the method's own, plus defaults for the per-model ones.
    MergeModelParams defaults;
    bool have_weight = !weight_required;
    if (const YAML::Node p = root["parameters"]) {
      if (!p.IsMap()) fail("parameters", "expected a mapping of parameter names to values");
      static const std::set<std::string> pkeys = {"normalize", "lambda", "int8_mask", "rescale",   "weight",
                                                  "density",   "gamma",  "pcb_ratio", "criterion", "criterion_params"};
      check_keys(p, pkeys, "parameters");
      if (p["normalize"])
        flag_setting(p["normalize"], "parameters.normalize", r.params.normalize, r.params.settings, "normalize");
      if (p["rescale"])
        flag_setting(p["rescale"], "parameters.rescale", r.params.rescale, r.params.settings, "rescale");
      if (p["int8_mask"]) {  // a mask dtype: no effect in float32, checked only
        bool ignored = false;
        MergeSettings unused;
        flag_setting(p["int8_mask"], "parameters.int8_mask", ignored, unused, "int8_mask");
      }
      if (p["lambda"]) setting(p["lambda"], "parameters.lambda", false, r.params.lambda, r.params.settings["lambda"]);
      if (p["pcb_ratio"]) {
        if (*m != MergeMethod::Pcb) fail("parameters.pcb_ratio", "only merge_method pcb has it");
        setting(p["pcb_ratio"], "parameters.pcb_ratio", true, r.params.pcb_ratio, r.params.settings["pcb_ratio"]);
      }
      if (p["criterion"]) {
        if (*m != MergeMethod::ImportanceWeighted)
          fail("parameters.criterion", "only merge_method importance_weighted (or fisher) has it");
        r.params.criterion = text(p["criterion"], "parameters.criterion");
      }
      if (const YAML::Node cp = p["criterion_params"]) {
        if (*m != MergeMethod::ImportanceWeighted)
          fail("parameters.criterion_params", "only merge_method importance_weighted (or fisher) has it");
        if (!cp.IsMap()) fail("parameters.criterion_params", "expected a mapping such as {eps: 1e-8}");
        for (const auto& kv : cp) {
          const std::string key = kv.first.as<std::string>();
          r.params.criterion_params[key] = text(kv.second, "parameters.criterion_params." + key);
        }
      }
      if (p["weight"]) {
        setting(p["weight"], "parameters.weight", false, defaults.weight, r.params.settings["weight"]);
        have_weight = true;
      }
      if (p["density"])
        setting(p["density"], "parameters.density", true, defaults.density, r.params.settings["density"]);
      if (p["gamma"]) setting(p["gamma"], "parameters.gamma", true, defaults.gamma, r.params.settings["gamma"]);
      std::erase_if(r.params.settings, [](const auto& kv) { return kv.second.entries.empty(); });
    }
    if (*m == MergeMethod::ImportanceWeighted && r.params.criterion.empty())
      fail("parameters", "importance_weighted needs 'criterion' (fisher, magnitude, delta, wanda, ...)");
    // Only a scalar counts as a default for every tensor; a filter list may leave tensors out.
    const auto global_weight = r.params.settings.find("weight");
    const bool weight_scalar = !weight_required || (have_weight && global_weight == r.params.settings.end());

    const YAML::Node models = root["models"];
    if (!models || !models.IsSequence() || models.size() == 0) fail("models", "expected a non-empty list of models");
    for (std::size_t i = 0; i < models.size(); ++i) {
      const std::string where = "models[" + std::to_string(i) + "]";
      const YAML::Node e = models[i];
      if (!e.IsMap()) fail(where, "expected a mapping with 'model' and 'parameters'");
      static const std::set<std::string> mkeys = {"model", "parameters"};
      check_keys(e, mkeys, where);
      if (!e["model"]) fail(where, "missing 'model'");
      RecipeModel rm;
      rm.path = path(e["model"], where + ".model");
      rm.params = defaults;
      bool weight = have_weight, scalar_weight = weight_scalar;
      if (const YAML::Node p = e["parameters"]) {
        if (!p.IsMap()) fail(where + ".parameters", "expected a mapping of parameter names to values");
        static const std::set<std::string> tkeys = {"weight", "density", "gamma", "stats"};
        check_keys(p, tkeys, where + ".parameters");
        const std::string w = where + ".parameters.";
        if (p["weight"]) {
          weight = true;
          scalar_weight = scalar_weight || !(p["weight"].IsSequence());
          setting(p["weight"], w + "weight", false, rm.params.weight, rm.settings["weight"]);
        }
        if (p["density"]) setting(p["density"], w + "density", true, rm.params.density, rm.settings["density"]);
        if (p["gamma"]) setting(p["gamma"], w + "gamma", true, rm.params.gamma, rm.settings["gamma"]);
        if (p["stats"]) {
          if (*m != MergeMethod::ImportanceWeighted)
            fail(w + "stats", "only merge_method importance_weighted (or fisher) reads statistics");
          rm.stats = path(p["stats"], w + "stats");
        }
        std::erase_if(rm.settings, [](const auto& kv) { return kv.second.entries.empty(); });
      }
      // mergekit drops the base from the models it takes task vectors of.
      if (r.base && merge_method_traits(*m).uses_base && rm.path == *r.base) continue;
      if (!weight) fail(where, "missing 'weight' (mergekit requires it)");
      // Only filter lists: tensors that no entry covers are refused when they are merged.
      if (!scalar_weight) rm.params.weight = std::numeric_limits<double>::quiet_NaN();
      r.models.push_back(std::move(rm));
    }
    if (r.models.empty()) fail("models", "no model besides the base");

    for (const char* key : {"dtype", "out_dtype"}) {
      if (const YAML::Node d = root[key]) {
        const std::string s = text(d, key);
        const auto t = merge_dtype_from_name(s);
        if (!t) fail(key, "'" + s + "': expected float32, float16 or bfloat16");
        r.dtype = t;  // out_dtype comes second and wins, as in mergekit
      }
    }
    return r;
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw bad_input(file_, where.empty() ? what : where + ": " + what);
  }

  void check_keys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) const {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
      if (!seen.insert(k).second) fail(where, "duplicate key '" + k + "'");
      if (allowed.count(k)) continue;
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(where, "unknown key '" + k + "' (accepted here: " + list + ")");
    }
  }

  std::string text(const YAML::Node& n, const std::string& where) const {
    if (!n.IsScalar()) fail(where, "expected a single value");
    return n.Scalar();
  }

  double number(const YAML::Node& n, const std::string& where, bool in_unit = false) const {
    if (!n.IsScalar()) fail(where, "expected a number");
    double v = 0;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      fail(where, "'" + n.Scalar() + "' is not a number");
    }
    if (!std::isfinite(v)) fail(where, "'" + n.Scalar() + "' is not a finite number");
    if (in_unit && !(v >= 0 && v <= 1)) fail(where, n.Scalar() + " is outside [0, 1]");
    return v;
  }

  // A number or a gradient (a non-empty list of numbers).
  std::vector<double> numbers(const YAML::Node& n, const std::string& where, bool in_unit) const {
    if (n.IsScalar()) return {number(n, where, in_unit)};
    if (!n.IsSequence() || n.size() == 0) fail(where, "expected a number or a non-empty list of numbers");
    std::vector<double> v;
    for (std::size_t i = 0; i < n.size(); ++i)
      v.push_back(number(n[i], where + "[" + std::to_string(i) + "]", in_unit));
    return v;
  }

  // mergekit's ParameterSetting: a number goes to `scalar`; a gradient or a list of
  // {filter, value} entries goes to `out` (per tensor).
  void setting(const YAML::Node& n, const std::string& where, bool in_unit, double& scalar, MergeSetting& out) const {
    if (n.IsScalar()) {
      scalar = number(n, where, in_unit);
      return;
    }
    if (n.IsMap()) fail(where, "a {filter, value} entry must be inside a list");
    if (!n.IsSequence() || n.size() == 0)
      fail(where, "expected a number, a list of numbers or a list of {filter, value}");
    if (n[0].IsScalar()) {
      out = MergeSetting::gradient(numbers(n, where, in_unit));
      return;
    }
    out = filter_list(n, where, [&](const YAML::Node& v, const std::string& at) { return numbers(v, at, in_unit); });
  }

  // A list of {filter, value} entries; values(node, where) reads each value.
  template <class Values>
  MergeSetting filter_list(const YAML::Node& n, const std::string& where, const Values& values) const {
    MergeSetting out;
    out.filtered = true;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string at = where + "[" + std::to_string(i) + "]";
      const YAML::Node e = n[i];
      if (!e.IsMap()) fail(at, "expected {filter, value} like the other entries");
      static const std::set<std::string> ekeys = {"filter", "value"};
      check_keys(e, ekeys, at);
      if (!e["value"]) fail(at, "missing 'value'");
      MergeSetting::Entry entry;
      if (e["filter"]) entry.filter = text(e["filter"], at + ".filter");
      entry.values = values(e["value"], at + ".value");
      out.entries.push_back(std::move(entry));
    }
    return out;
  }

  bool flag(const YAML::Node& n, const std::string& where) const {
    if (!n.IsScalar()) fail(where, "expected true or false");
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(where, "'" + n.Scalar() + "' is not true or false");
    }
  }

  // A boolean as mergekit evaluates it per tensor: true/false, or a list of {filter, value}
  // entries (stored as a 0/1 setting under `key`).
  void flag_setting(const YAML::Node& n, const std::string& where, bool& scalar, MergeSettings& settings,
                    const char* key) const {
    if (n.IsScalar()) {
      scalar = flag(n, where);
      return;
    }
    if (!n.IsSequence() || n.size() == 0 || !n[0].IsMap())
      fail(where, "expected true, false or a list of {filter, value}");
    settings[key] = filter_list(n, where, [&](const YAML::Node& v, const std::string& at) {
      return std::vector<double>{flag(v, at) ? 1.0 : 0.0};
    });
  }

  fs::path path(const YAML::Node& n, const std::string& where) const {
    const std::string s = text(n, where);
    if (s.empty()) fail(where, "empty path");
    fs::path p(s);
    if (p.is_relative()) p = dir_ / p;
    p = p.lexically_normal();
    if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();  // "base/" names the same model as "base"
    return p;
  }

  fs::path file_, dir_;
};

}  // namespace

std::optional<DType> merge_dtype_from_name(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "float32" || s == "fp32" || s == "f32") return DType::F32;
  if (s == "float16" || s == "fp16" || s == "f16" || s == "half") return DType::F16;
  if (s == "bfloat16" || s == "bf16") return DType::BF16;
  return std::nullopt;
}

MergeRecipe load_merge_recipe(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw io_error(file, "cannot open the recipe");
  std::stringstream ss;
  ss << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(ss.str());
  } catch (const YAML::Exception& e) {
    throw bad_input(file, "not valid YAML: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return RecipeParser(file).parse(root);
}

}  // namespace paramscope::cli
