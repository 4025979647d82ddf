#include "criterion_options.h"

#include <cstdlib>

#include "paramscope/error.h"

namespace paramscope::cli {

void CriterionOptions::add_to(CLI::App& cmd, bool with_checkpoint) {
  if (with_checkpoint) cmd.add_option("checkpoint", checkpoint, "Checkpoint file or folder")->required();
  cmd.add_option("--criterion,-c", criterion, "Importance criterion (see `paramscope-cli criteria`)")->required();
  cmd.add_option("--base", base, "Base checkpoint (delta criteria; frobenius of W - W_base)");
  cmd.add_option("--stats", stats, "Statistics safetensors: <weight>@act_l2, @grad, @grad_sq (docs/statistics.md)");
  cmd.add_option("--contrast-stats", contrast_stats, "Statistics of the data whose importance is removed (contrast)");
  cmd.add_option("--param,-p", params, "Criterion parameter KEY=VALUE (repeatable)");
  cmd.add_option("--tensors,-t", include, "Score only tensors matching these globs ('*' any run, '?' one char)");
  cmd.add_option("--exclude", exclude, "Leave out tensors matching these globs");
  cmd.add_flag("--all", all, "Score every floating-point tensor (default: matrices and convolutions, not embeddings)");
}

CriterionInputs OpenedInputs::inputs(const CriterionOptions& o) {
  CriterionInputs in;
  if (!o.base.empty()) in.base = &ctx_.open(o.base);
  if (!o.stats.empty()) in.stats = &ctx_.open(o.stats);
  if (!o.contrast_stats.empty()) in.contrast_stats = &ctx_.open(o.contrast_stats);
  const auto& info = criterion(o).info();
  for (const auto& kv : o.params) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw usage_error("--param " + kv + ": expected KEY=VALUE");
    const std::string key = kv.substr(0, eq);
    if (!info.params.count(key)) {
      std::string known;
      for (const auto& [k, v] : info.params) known += (known.empty() ? "" : ", ") + k + "=" + v;
      throw usage_error(
          "criterion " + info.name + " has no parameter '" + key + "'" +
          (known.empty() ? std::string(" (it takes none)") : " (parameters and defaults: " + known + ")"));
    }
    in.params[key] = kv.substr(eq + 1);
  }
  return in;
}

const Criterion& OpenedInputs::criterion(const CriterionOptions& o) const {
  return CriterionRegistry::builtin().get(o.criterion);
}

TensorSelection OpenedInputs::selection(const CriterionOptions& o) const {
  return {o.include, o.exclude, o.all};
}

double parse_fraction(const std::string& s, const std::string& option) {
  std::string v = s;
  bool percent = !v.empty() && v.back() == '%';
  if (percent) v.pop_back();
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0')
    throw usage_error(option + " " + s + ": expected a fraction (0.1) or a percentage (10%)");
  const double f = percent ? d / 100 : d;
  if (!(f >= 0 && f <= 1)) throw usage_error(option + " " + s + ": must lie between 0 and 1 (0% and 100%)");
  return f;
}

}  // namespace paramscope::cli
