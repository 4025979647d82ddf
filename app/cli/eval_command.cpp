// paramscope-cli eval MODEL.onnx --data DIR|FILE.npy|FILE.npz [--labels FILE.npy]
// Accuracy of a classifier on labelled samples.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "paramscope/calibration.h"
#include "paramscope/error.h"
#include "progress_bar.h"
#include "sample_sources.h"

namespace paramscope::cli {
namespace {

struct EvalOptions {
  std::string model;
  SampleOptions samples;
  bool json = false;
};

void eval(const EvalOptions& o, Context& ctx) {
  const engine::Model model = engine::Model::load(o.model);
  const engine::SampleSet data = open_samples(o.samples, model);
  if (!data.labels)
    throw usage_error(o.samples.data + ": no labels (give --labels FILE.npy, an NPZ member 'labels', or class folders)");
  ProgressBar bar("eval", "samples");
  const auto r = engine::evaluate(model, data, classifier_options(o.samples, 64), {&ctx.cancel, bar.callback()});
  bar.done();
  const double n = static_cast<double>(std::max<std::int64_t>(r.positions, 1));
  if (o.json) {
    nlohmann::ordered_json j{{"model", o.model},         {"data", o.samples.data},   {"samples", r.samples},
                             {"positions", r.positions}, {"correct", r.correct},     {"accuracy", r.correct / n},
                             {"top5_accuracy", r.top5 / n}, {"mean_loss", r.mean_loss}, {"confusion", r.confusion}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s on %s: accuracy %.4f (%lld of %lld), top-5 %.4f, mean cross-entropy %.4f\n", o.model.c_str(),
              o.samples.data.c_str(), r.correct / n, static_cast<long long>(r.correct),
              static_cast<long long>(r.positions), r.top5 / n, r.mean_loss);
  if (!r.confusion.empty() && r.confusion.size() <= 20) {
    std::printf("confusion (rows: label, columns: predicted)\n");
    for (std::size_t i = 0; i < r.confusion.size(); ++i) {
      std::printf("%4zu |", i);
      for (const auto c : r.confusion[i]) std::printf(" %4lld", static_cast<long long>(c));
      std::printf("\n");
    }
  }
}

}  // namespace

void add_eval_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval", "Accuracy of an ONNX classifier on labelled samples");
  cmd->add_option("model", o->model, "The ONNX model")->required();
  cmd->add_option("--data,-d", o->samples.data, "Samples: an image folder (class subfolders), FILE.npy or FILE.npz")
      ->required();
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  add_sample_options(*cmd, o->samples);
  cmd->callback([o, &ctx] { eval(*o, ctx); });
}

}  // namespace paramscope::cli
