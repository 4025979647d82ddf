// paramscope-cli calibrate MODEL.onnx --data DIR|FILE.npy|FILE.npz -o stats.safetensors
// Gathers the statistics the data-driven criteria read (docs/statistics.md) on calibration data.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "paramscope/calibration.h"
#include "paramscope/importance.h"
#include "progress_bar.h"
#include "sample_sources.h"

namespace paramscope::cli {
namespace {

struct CalibrateOptions {
  std::string model, output;
  SampleOptions samples;
  std::vector<std::string> targets, exclude;
  bool no_activations = false, no_gradients = false, json = false;
};

void calibrate(const CalibrateOptions& o, Context& ctx) {
  const engine::Model model = engine::Model::load(o.model);
  const engine::SampleSet data = open_samples(o.samples, model);
  engine::CalibrationOptions co;
  static_cast<engine::ClassifierOptions&>(co) = classifier_options(o.samples, 1);
  co.activations = !o.no_activations;
  co.gradients = !o.no_gradients;
  if (!o.targets.empty() || !o.exclude.empty())
    co.select = [targets = o.targets, exclude = o.exclude](const std::string& name) {
      for (const auto& p : exclude)
        if (glob_match(p, name)) return false;
      if (targets.empty()) return true;
      for (const auto& p : targets)
        if (glob_match(p, name)) return true;
      return false;
    };
  ProgressBar bar("calibrate", "samples");
  const auto r = engine::calibrate(model, data, co, {&ctx.cancel, bar.callback()});
  bar.done();
  engine::write_statistics(o.output, r, model, co);

  std::size_t act = 0, grad = 0;
  for (const auto& [name, a] : r.stats) (name.ends_with("@act_l2") ? act : grad) += 1;
  const std::string labels = r.own_predictions ? "the model's own predictions" : "the given labels";
  if (o.json) {
    nlohmann::ordered_json j{{"model", o.model},          {"data", o.samples.data},
                             {"output", o.output},        {"samples", r.samples},
                             {"batch", co.batch},         {"gradient_terms", r.batches},
                             {"mean_loss", r.mean_loss},  {"labels", r.own_predictions ? "predicted" : "given"},
                             {"act_l2_tensors", act},     {"grad_tensors", grad / 2}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s: %lld samples in batches of %lld, mean cross-entropy %.4f against %s\n", o.output.c_str(),
                static_cast<long long>(r.samples), static_cast<long long>(co.batch), r.mean_loss, labels.c_str());
    std::printf("  %zu activation norms (@act_l2), %zu gradient sums (@grad, @grad_sq over %lld terms)\n", act,
                grad / 2, static_cast<long long>(r.batches));
  }
}

}  // namespace

void add_calibrate_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand(
      "calibrate", "Gather activation norms and loss gradients on calibration data for wanda, taylor, fisher, obd");
  cmd->add_option("model", o->model, "The ONNX model")->required();
  cmd->add_option("--data,-d", o->samples.data, "Samples: an image folder (class subfolders), FILE.npy or FILE.npz")
      ->required();
  cmd->add_option("-o,--output", o->output, "Statistics file (safetensors)")->required();
  cmd->add_option("--targets,-t", o->targets, "Only weights matching these globs");
  cmd->add_option("--exclude", o->exclude, "Leave out weights matching these globs");
  cmd->add_flag("--no-activations", o->no_activations, "Skip the activation norms");
  cmd->add_flag("--no-gradients", o->no_gradients, "Skip the gradients (forward passes only)");
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  add_sample_options(*cmd, o->samples);
  cmd->callback([o, &ctx] { calibrate(*o, ctx); });
}

}  // namespace paramscope::cli
