// paramscope-cli mask CKPT --criterion NAME --top 10% --scope global|tensor|row|2:4 -o mask.safetensors
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "criterion_options.h"
#include "paramscope/error.h"
#include "paramscope/map_export.h"
#include "paramscope/mask.h"
#include "progress_bar.h"

namespace paramscope::cli {
namespace {

struct MaskOptions {
  CriterionOptions crit;
  std::string top = "10%", scope = "global", dtype = "bool";
  std::string output;
  bool json = false;
};

void run_mask(const MaskOptions& o, Context& ctx) {
  OpenedInputs opened(ctx);
  const Checkpoint& model = opened.model(o.crit.checkpoint);
  const Criterion& criterion = opened.criterion(o.crit);
  const CriterionInputs inputs = opened.inputs(o.crit);
  const auto tensors = select_tensors(model, opened.selection(o.crit));
  const MaskSpec spec = MaskSpec::parse(o.top, o.scope);
  DType dtype = DType::BOOL;
  if (o.dtype == "u8" || o.dtype == "U8")
    dtype = DType::U8;
  else if (o.dtype != "bool" && o.dtype != "BOOL")
    throw usage_error("--dtype " + o.dtype + ": expected bool or u8");
  const auto field = make_score_field(model, tensors, criterion, inputs);
  const auto metadata = mask_metadata(model, criterion, inputs);

  ProgressBar bar("mask " + criterion.info().name, "elem", stored_bytes_per_element(model, tensors));
  const MaskSummary s = write_mask(o.output, *field, spec, dtype, ctx.pool(), {&ctx.cancel, bar.callback()}, metadata);
  bar.done();
  if (o.json) {
    nlohmann::ordered_json j;
    j["mask"] = o.output;
    j["spec"] = spec.describe();
    j["criterion"] = criterion.info().name;
    j["kept"] = s.kept;
    j["total"] = s.total;
    j["density"] = s.total ? static_cast<double>(s.kept) / static_cast<double>(s.total) : 0.0;
    if (s.threshold) {
      j["threshold"] = *s.threshold;
      j["ties_kept"] = s.ties_kept;
    }
    auto& arr = j["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : s.tensors)
      arr.push_back({{"name", t.name},
                     {"kept", t.kept},
                     {"total", t.total},
                     {"density", t.density()},
                     {"kept_whole", t.kept_whole}});
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s: %s mask by %s -> %s\n", model.path().string().c_str(), spec.describe().c_str(),
              criterion.info().name.c_str(), o.output.c_str());
  std::printf("  %-56s %12s %12s %8s\n", "tensor", "kept", "total", "density");
  for (const auto& t : s.tensors)
    std::printf("  %-56s %12lld %12lld %7.3f%%%s\n", t.name.c_str(), static_cast<long long>(t.kept),
                static_cast<long long>(t.total), 100 * t.density(),
                t.kept_whole ? "  kept whole (not N:M-groupable)" : "");
  std::printf("  %-56s %12lld %12lld %7.3f%%\n", "(all)", static_cast<long long>(s.kept),
              static_cast<long long>(s.total),
              s.total ? 100.0 * static_cast<double>(s.kept) / static_cast<double>(s.total) : 0.0);
  if (s.threshold)
    std::printf("  threshold %.9g (%lld ties kept)\n", *s.threshold, static_cast<long long>(s.ties_kept));
}

}  // namespace

void add_mask_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<MaskOptions>();
  auto* cmd = app.add_subcommand("mask",
                                 "Select the most important weights by a criterion and write a mask as "
                                 "safetensors (the checkpoint's tensor names, BOOL or U8).");
  o->crit.add_to(*cmd);
  cmd->add_option("--top", o->top, "How many to keep: a fraction (0.1), a percentage (10%) or a count (5000)")
      ->capture_default_str();
  cmd->add_option("--scope", o->scope, "global, tensor, row, N:M (2:4, 4:8) or threshold (with --top T)")
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "bool or u8")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "Mask file (.safetensors)")->required();
  cmd->add_flag("--json", o->json, "Print the densities as JSON");
  cmd->callback([o, &ctx] { run_mask(*o, ctx); });
}

}  // namespace paramscope::cli
