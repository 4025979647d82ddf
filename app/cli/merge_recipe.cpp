#include "merge_recipe.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
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
    if (const YAML::Node b = root["base_model"]) r.base = path(b, "base_model");
    if (!r.base && merge_method_traits(*m).uses_base) fail("", "merge method '" + name + "' needs a 'base_model'");

    // Global parameters: the method's own, plus defaults for the per-model ones.
    MergeModelParams defaults;
    bool have_weight = false;
    if (const YAML::Node p = root["parameters"]) {
      if (!p.IsMap()) fail("parameters", "expected a mapping of parameter names to values");
      static const std::set<std::string> pkeys = {"normalize", "lambda",  "int8_mask", "rescale",
                                                  "weight",    "density", "gamma"};
      check_keys(p, pkeys, "parameters");
      if (p["normalize"]) r.params.normalize = flag(p["normalize"], "parameters.normalize");
      if (p["rescale"]) r.params.rescale = flag(p["rescale"], "parameters.rescale");
      if (p["int8_mask"]) flag(p["int8_mask"], "parameters.int8_mask");  // a mask dtype: no effect in float32
      if (p["lambda"]) r.params.lambda = number(p["lambda"], "parameters.lambda");
      if (p["weight"]) {
        defaults.weight = number(p["weight"], "parameters.weight");
        have_weight = true;
      }
      if (p["density"]) defaults.density = fraction(p["density"], "parameters.density");
      if (p["gamma"]) defaults.gamma = fraction(p["gamma"], "parameters.gamma");
    }

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
      bool weight = have_weight;
      if (const YAML::Node p = e["parameters"]) {
        if (!p.IsMap()) fail(where + ".parameters", "expected a mapping of parameter names to values");
        static const std::set<std::string> tkeys = {"weight", "density", "gamma"};
        check_keys(p, tkeys, where + ".parameters");
        if (p["weight"]) {
          rm.params.weight = number(p["weight"], where + ".parameters.weight");
          weight = true;
        }
        if (p["density"]) rm.params.density = fraction(p["density"], where + ".parameters.density");
        if (p["gamma"]) rm.params.gamma = fraction(p["gamma"], where + ".parameters.gamma");
      }
      // mergekit drops the base from the models it takes task vectors of.
      if (r.base && merge_method_traits(*m).uses_base && rm.path == *r.base) continue;
      if (!weight) fail(where, "missing 'weight' (mergekit requires it)");
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

  double number(const YAML::Node& n, const std::string& where) const {
    if (n.IsSequence() || n.IsMap())
      fail(where, "per-tensor parameter lists ('filter' / 'value') are not supported yet; give one number");
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
      fail(where, "'" + n.Scalar() + "' is not a number");
    }
  }

  double fraction(const YAML::Node& n, const std::string& where) const {
    const double v = number(n, where);
    if (!(v >= 0 && v <= 1)) fail(where, n.Scalar() + " is outside [0, 1]");
    return v;
  }

  bool flag(const YAML::Node& n, const std::string& where) const {
    if (!n.IsScalar()) fail(where, "expected true or false");
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(where, "'" + n.Scalar() + "' is not true or false");
    }
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
