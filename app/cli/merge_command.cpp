// paramscope-cli merge RECIPE.yaml -o merged/ [--dtype bf16] [--shard-size 5GB] [--seed N] [--json]
//                      [--criterion NAME] [--param KEY=VALUE ...] [--stats FILE ...]
#include <cctype>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "merge_recipe.h"
#include "paramscope/error.h"
#include "paramscope/merge.h"
#include "progress_bar.h"

namespace paramscope::cli {
namespace {

struct MergeOptions {
  std::string recipe, output, dtype, shard_size = "5GB", criterion;
  std::vector<std::string> stats, params;
  std::uint64_t seed = 0;
  bool json = false;
};

// "w=1,0.5 d=0.5,0.3": the values a tensor resolved to, for recipes with per-tensor settings.
std::string resolved_text(const MergedTensorStats& t, const MergeRecipe& r) {
  const auto list = [&t](const char* tag, double MergeModelParams::*field) {
    std::string s = std::string(" ") + tag + "=";
    for (std::size_t i = 0; i < t.params.size(); ++i) {
      char b[32];
      std::snprintf(b, sizeof b, "%s%g", i ? "," : "", t.params[i].*field);
      s += b;
    }
    return s;
  };
  const auto traits = merge_method_traits(r.params.method);
  std::string s = list("w", &MergeModelParams::weight);
  if (traits.sparsification != Sparsification::None) s += list("d", &MergeModelParams::density);
  if (traits.sparsification == Sparsification::MagnitudeOutliers) s += list("g", &MergeModelParams::gamma);
  char b[64];
  if (r.params.settings.count("lambda")) {
    std::snprintf(b, sizeof b, " lambda=%g", t.lambda);
    s += b;
  }
  if (r.params.settings.count("pcb_ratio")) {
    std::snprintf(b, sizeof b, " pcb_ratio=%g", t.pcb_ratio);
    s += b;
  }
  return s;
}

// "5GB", "500MB", "2GiB", "1000000" (bytes), as Hugging Face's max_shard_size spells them.
std::uint64_t parse_size(const std::string& s) {
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (const std::exception&) {
    throw usage_error("--shard-size " + s + ": expected a size such as 5GB, 500MB or 2GiB");
  }
  std::string unit = s.substr(pos);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double mult = 0;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KB")
    mult = 1e3;
  else if (unit == "MB")
    mult = 1e6;
  else if (unit == "GB")
    mult = 1e9;
  else if (unit == "KIB")
    mult = 1024.0;
  else if (unit == "MIB")
    mult = 1024.0 * 1024;
  else if (unit == "GIB")
    mult = 1024.0 * 1024 * 1024;
  if (mult == 0 || !(v > 0)) throw usage_error("--shard-size " + s + ": expected a size such as 5GB, 500MB or 2GiB");
  return static_cast<std::uint64_t>(v * mult);
}

double percent(std::int64_t a, std::int64_t b) {
  return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0;
}

void run_merge(const MergeOptions& o, Context& ctx) {
  MergeRecipe recipe = load_merge_recipe(o.recipe);
  recipe.params.seed = o.seed;
  MergeOutputOptions out;
  out.dtype = recipe.dtype;
  if (!o.dtype.empty()) {
    out.dtype = merge_dtype_from_name(o.dtype);
    if (!out.dtype) throw usage_error("--dtype " + o.dtype + ": expected f32, f16 or bf16");
  }
  out.shard_bytes = parse_size(o.shard_size);
  if (!o.criterion.empty()) {
    if (recipe.params.method != MergeMethod::ImportanceWeighted)
      throw usage_error("--criterion: only for merge_method importance_weighted (or fisher)");
    recipe.params.criterion = o.criterion;
  }
  for (const auto& kv : o.params) {
    if (recipe.params.method != MergeMethod::ImportanceWeighted)
      throw usage_error("--param: only for merge_method importance_weighted (or fisher)");
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw usage_error("--param " + kv + ": expected KEY=VALUE");
    recipe.params.criterion_params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!o.stats.empty() && o.stats.size() != recipe.models.size())
    throw usage_error("--stats: " + std::to_string(o.stats.size()) + " files for " +
                      std::to_string(recipe.models.size()) + " models (one per model, in the recipe's order)");
  const Checkpoint& base = ctx.open((recipe.base ? *recipe.base : recipe.models.front().path).string());
  std::vector<MergeInput> inputs;
  for (std::size_t i = 0; i < recipe.models.size(); ++i) {
    const auto& m = recipe.models[i];
    MergeInput in{&ctx.open(m.path.string()), m.params, m.settings, nullptr};
    if (!o.stats.empty())
      in.stats = &ctx.open(o.stats[i]);
    else if (m.stats)
      in.stats = &ctx.open(m.stats->string());
    inputs.push_back(std::move(in));
  }
  // Per-tensor settings are checked against the base's tensor names before anything is written.
  try {
    check_merge_params(recipe.params, inputs, &base);
  } catch (const Error& e) {
    if (e.kind() != Error::Kind::Usage) throw;
    throw bad_input(recipe.file, e.what());
  }
  bool per_tensor = !recipe.params.settings.empty();
  for (const auto& m : recipe.models) per_tensor = per_tensor || !m.settings.empty();

  const std::string method(merge_method_name(recipe.params.method));
  ProgressBar bar("merge " + method, "elem");
  const MergeSummary s =
      merge_checkpoints(o.output, base, inputs, recipe.params, out, ctx.pool(), {&ctx.cancel, bar.callback()});
  bar.done();

  std::int64_t total = 0, conflicts = 0;
  std::vector<std::int64_t> kept(inputs.size(), 0);
  for (const auto& t : s.tensors) {
    if (t.copied) continue;
    total += t.numel;
    conflicts += t.sign_conflicts;
    for (std::size_t i = 0; i < kept.size(); ++i) kept[i] += t.kept[i];
  }
  if (o.json) {
    nlohmann::ordered_json j;
    j["method"] = method;
    j["output"] = o.output;
    auto& files = j["files"] = nlohmann::ordered_json::array();
    for (const auto& f : s.files) files.push_back(f.string());
    j["bytes"] = s.bytes;
    j["elements"] = total;
    j["kept"] = kept;
    j["sign_conflicts"] = conflicts;
    auto& arr = j["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : s.tensors) {
      nlohmann::ordered_json e = {{"name", t.name},
                                  {"numel", t.numel},
                                  {"copied", t.copied},
                                  {"kept", t.kept},
                                  {"contributed", t.contributed},
                                  {"sign_conflicts", t.sign_conflicts}};
      std::vector<double> w, d, g;
      for (const auto& p : t.params) {
        w.push_back(p.weight);
        d.push_back(p.density);
        g.push_back(p.gamma);
      }
      e["weight"] = w;
      e["density"] = d;
      e["gamma"] = g;
      e["lambda"] = t.lambda;
      if (recipe.params.method == MergeMethod::Pcb) e["pcb_ratio"] = t.pcb_ratio;
      if (!t.note.empty()) e["note"] = t.note;
      arr.push_back(std::move(e));
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s merge of %zu model(s) onto %s -> %s\n", method.c_str(), inputs.size(), base.path().string().c_str(),
              o.output.c_str());
  std::printf("  %-48s %12s  %s  %9s\n", "tensor", "elements", "kept % per model", "conflict%");
  for (const auto& t : s.tensors) {
    std::string k;
    if (t.copied) {
      k = "copied from the base (not float)";
    } else {
      for (const auto v : t.kept) {
        char b[16];
        std::snprintf(b, sizeof b, "%s%6.2f", k.empty() ? "" : " ", percent(v, t.numel));
        k += b;
      }
    }
    std::printf("  %-48s %12lld  %s  %8.2f%%%s\n", t.name.c_str(), static_cast<long long>(t.numel), k.c_str(),
                percent(t.sign_conflicts, t.numel), per_tensor && !t.copied ? resolved_text(t, recipe).c_str() : "");
    if (!t.note.empty()) std::printf("    %s\n", t.note.c_str());
  }
  std::string k;
  for (const auto v : kept) {
    char b[16];
    std::snprintf(b, sizeof b, "%s%6.2f", k.empty() ? "" : " ", percent(v, total));
    k += b;
  }
  std::printf("  %-48s %12lld  %s  %8.2f%%\n", "(all)", static_cast<long long>(total), k.c_str(),
              percent(conflicts, total));
  for (const auto& f : s.files) std::printf("wrote %s\n", f.string().c_str());
}

}  // namespace

void add_merge_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<MergeOptions>();
  auto* cmd =
      app.add_subcommand("merge",
                         "Merge fine-tuned checkpoints by a mergekit-style YAML recipe (linear, task_arithmetic, "
                         "ties, dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, magnitude_prune, pcb, "
                         "importance_weighted / fisher) into safetensors.");
  cmd->add_option("recipe", o->recipe, "Recipe (.yaml); paths in it are relative to its folder")->required();
  cmd->add_option("-o,--output", o->output, "Output folder (model.safetensors or shards + index, config.json)")
      ->required();
  cmd->add_option("--dtype", o->dtype, "Output dtype: f32, f16 or bf16 (default: the recipe's, else the base's)");
  cmd->add_option("--shard-size", o->shard_size, "Largest shard (5GB, 500MB, 2GiB)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of DARE's random drop")->capture_default_str();
  cmd->add_option("--criterion", o->criterion,
                  "importance_weighted: the importance criterion (fisher, magnitude, delta, wanda, ...); "
                  "overrides the recipe's");
  cmd->add_option(
      "--param,-p", o->params,
      "importance_weighted: criterion parameter KEY=VALUE (repeatable; overrides the recipe's criterion_params)");
  cmd->add_option("--stats", o->stats,
                  "importance_weighted: one statistics file per model, in the recipe's order; overrides the recipe's");
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  cmd->callback([o, &ctx] { run_merge(*o, ctx); });
}

}  // namespace paramscope::cli
