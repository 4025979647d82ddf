// paramscope-cli merge RECIPE.yaml -o merged/ [--dtype bf16] [--shard-size 5GB] [--seed N] [--json]
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
  std::string recipe, output, dtype, shard_size = "5GB";
  std::uint64_t seed = 0;
  bool json = false;
};

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
  const Checkpoint& base = ctx.open((recipe.base ? *recipe.base : recipe.models.front().path).string());
  std::vector<MergeInput> inputs;
  for (const auto& m : recipe.models) inputs.push_back({&ctx.open(m.path.string()), m.params});

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
    for (const auto& t : s.tensors)
      arr.push_back({{"name", t.name},
                     {"numel", t.numel},
                     {"copied", t.copied},
                     {"kept", t.kept},
                     {"contributed", t.contributed},
                     {"sign_conflicts", t.sign_conflicts}});
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
    std::printf("  %-48s %12lld  %s  %8.2f%%\n", t.name.c_str(), static_cast<long long>(t.numel), k.c_str(),
                percent(t.sign_conflicts, t.numel));
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
                         "ties, dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties) into safetensors.");
  cmd->add_option("recipe", o->recipe, "Recipe (.yaml); paths in it are relative to its folder")->required();
  cmd->add_option("-o,--output", o->output, "Output folder (model.safetensors or shards + index, config.json)")
      ->required();
  cmd->add_option("--dtype", o->dtype, "Output dtype: f32, f16 or bf16 (default: the recipe's, else the base's)");
  cmd->add_option("--shard-size", o->shard_size, "Largest shard (5GB, 500MB, 2GiB)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of DARE's random drop")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  cmd->callback([o, &ctx] { run_merge(*o, ctx); });
}

}  // namespace paramscope::cli
