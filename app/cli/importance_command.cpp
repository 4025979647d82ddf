// paramscope-cli importance CKPT --criterion NAME [--granularity G] [--reduce R] -o OUT
//   and paramscope-cli criteria (the list, with formulas and sources).
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "criterion_options.h"
#include "paramscope/error.h"
#include "paramscope/map_export.h"
#include "progress_bar.h"

namespace paramscope::cli {
namespace {

struct ImportanceOptions {
  CriterionOptions crit;
  std::string granularity = "element", reduce = "sum";
  int heads = 0, kv_heads = 0;
  std::string output, summary;
  bool json = false;
};

void print_blocks(const ReducedMaps& maps) {
  std::printf("  %-40s %14s %12s\n", "block", "elements", std::string(reduction_name(maps.reduction)).c_str());
  for (const auto& b : maps.blocks)
    std::printf("  %-40s %14lld %12.5g\n", b.name.empty() ? "(top level)" : b.name.c_str(),
                static_cast<long long>(b.count), b.value(maps.reduction));
  for (const auto& [name, why] : maps.skipped) std::printf("  skipped %s: %s\n", name.c_str(), why.c_str());
}

void run_importance(const ImportanceOptions& o, Context& ctx) {
  if (o.output.empty() && o.summary.empty() && !o.json)
    throw usage_error("importance: nothing to write (give -o, --summary or --json)");
  OpenedInputs opened(ctx);
  const Checkpoint& model = opened.model(o.crit.checkpoint);
  const Criterion& criterion = opened.criterion(o.crit);
  const CriterionInputs inputs = opened.inputs(o.crit);
  const auto tensors = select_tensors(model, opened.selection(o.crit));
  const Granularity g = parse_granularity(o.granularity);
  const Reduction r = parse_reduction(o.reduce);
  HeadConfig heads = HeadConfig::from_checkpoint(model);
  if (o.heads > 0) heads = {o.heads, o.kv_heads};
  const MapProvenance prov = provenance_of(model, criterion.info().name, g, r, inputs);
  MapExportSpec spec{g, r, heads, o.output, o.summary, o.json};
  ProgressBar bar(criterion.info().name, "elem", stored_bytes_per_element(model, tensors));
  const ReducedMaps maps =
      export_importance_maps(model, tensors, criterion, inputs, spec, ctx.pool(), {&ctx.cancel, bar.callback()});
  bar.done();
  if (o.json) {
    std::fputs(summary_json(maps, prov).c_str(), stdout);
    return;
  }
  std::printf("%s: %s, %s, %zu tensors\n", model.path().string().c_str(), criterion.info().name.c_str(),
              std::string(granularity_name(g)).c_str(), tensors.size());
  if (!maps.blocks.empty()) print_blocks(maps);
  if (!o.output.empty()) std::printf("wrote %s\n", o.output.c_str());
  if (!o.summary.empty()) std::printf("wrote %s\n", o.summary.c_str());
}

void run_criteria() {
  for (const Criterion* c : CriterionRegistry::builtin().all()) {
    const auto& i = c->info();
    std::printf("%-15s %s\n", i.name.c_str(), i.formula.c_str());
    std::string needs = i.elementwise ? "per weight" : "per matrix (tensor/block granularity)";
    if (i.needs_base) needs += "; needs --base";
    for (const auto& s : i.needs_stats) needs += "; needs --stats <weight>@" + s;
    for (const auto& [k, v] : i.params) needs += "; --param " + k + "=" + v;
    std::printf("%-15s %s\n%-15s source: %s\n\n", "", needs.c_str(), "", i.source.c_str());
  }
}

}  // namespace

void add_importance_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ImportanceOptions>();
  auto* cmd = app.add_subcommand("importance",
                                 "Compute an importance map: a criterion at a granularity, written as "
                                 "HDF5 (.h5) or NPY (.npy or a folder), with per-tensor/per-block summaries.");
  o->crit.add_to(*cmd);
  cmd->add_option("--granularity,-g", o->granularity, "element, row (neuron/channel), column (in), head, tensor, block")
      ->capture_default_str();
  cmd->add_option("--reduce,-r", o->reduce, "sum, mean, max, l2 (how elements reduce to the granularity)")
      ->capture_default_str();
  cmd->add_option("--heads", o->heads, "Attention heads (default: from config.json or GGUF metadata)");
  cmd->add_option("--kv-heads", o->kv_heads, "Key/value heads for grouped-query attention (default: --heads)");
  cmd->add_option("-o,--output", o->output, "Map file: OUT.h5, OUT.npy (one tensor) or a folder of .npy files");
  cmd->add_option("--summary", o->summary, "Per-tensor and per-block summary: FILE.csv or FILE.json");
  cmd->add_flag("--json", o->json, "Print the summary as JSON on stdout");
  cmd->callback([o, &ctx] { run_importance(*o, ctx); });
}

void add_criteria_command(CLI::App& app, Context&) {
  auto* cmd = app.add_subcommand("criteria", "List the importance criteria with their formulas and sources.");
  cmd->callback([] { run_criteria(); });
}

}  // namespace paramscope::cli
