// paramscope-cli evaluate MODEL.onnx INPUT... [--method rise,deeplift,...] [--map LABEL=FILE.npy] -o table.csv
// Faithfulness of attribution methods on the same inputs: deletion and insertion curves and
// their areas (Petsiuk et al. 2018), one row per method.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attribution_methods.h"
#include "commands.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"
#include "paramscope/writers.h"
#include "progress_bar.h"
#include "sample_sources.h"

namespace paramscope::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct EvaluateOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> methods{"rise", "deeplift", "ig", "gxi"};
  std::vector<std::string> maps;  ///< LABEL=FILE.npy, precomputed maps for the (single) input
  MethodOptions method;
  SampleOptions images;
  xai::CurveOptions curves;
  std::string deletion = "zeros", insertion = "blur";
  std::string out, curves_out;
  bool json = false;
};

xai::CurveOptions::Substrate substrate(const std::string& s, double& value) {
  if (s == "zeros") return xai::CurveOptions::Substrate::Zeros;
  if (s == "blur") return xai::CurveOptions::Substrate::Blur;
  if (s.starts_with("constant:")) {
    try {
      value = std::stod(s.substr(9));
      return xai::CurveOptions::Substrate::Constant;
    } catch (const std::exception&) {
    }
  }
  throw usage_error("substrate '" + s + "': expected zeros, blur or constant:V");
}

struct Row {
  std::string method;
  std::vector<double> deletion, insertion;  // AUC per sample
  Json curves = Json::array();
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

void evaluate(const EvaluateOptions& o, Context& ctx) {
  const engine::Model model = engine::Model::load(o.model);
  xai::CurveOptions co = o.curves;
  co.axes = o.method.axes;
  co.deletion_substrate = substrate(o.deletion, co.value);
  co.insertion_substrate = substrate(o.insertion, co.value);
  std::vector<std::pair<std::string, std::string>> external;
  for (const auto& m : o.maps) {
    const auto eq = m.find('=');
    if (eq == std::string::npos || eq == 0) throw usage_error("--map '" + m + "': expected LABEL=FILE.npy");
    external.emplace_back(m.substr(0, eq), m.substr(eq + 1));
  }
  if (!external.empty() && o.inputs.size() != 1)
    throw usage_error("--map needs exactly one input (the batch the maps were computed for)");
  std::vector<Row> rows;
  auto row_of = [&](const std::string& label) -> Row& {
    for (auto& r : rows)
      if (r.method == label) return r;
    rows.push_back({label, {}, {}});
    return rows.back();
  };
  for (const auto& input : o.inputs) {
    SampleOptions so = o.images;
    so.data = input;
    so.input_name = o.method.input_name;
    const Array x = read_samples(so, model);
    // Every method explains the same class: the one the first method (or the top prediction) uses.
    xai::Target target = target_for("rise", o.method);
    target.softmax = co.softmax;
    std::vector<std::pair<std::string, Array>> maps;
    for (const auto& method : o.methods) {
      ProgressBar bar(method + " " + fs::path(input).stem().string());
      maps.emplace_back(method, run_method(model, x, method, o.method, {&ctx.cancel, bar.callback()}).map);
      bar.done();
    }
    for (const auto& [label, file] : external) maps.emplace_back(label, read_npy(file).cast(DType::F32));
    for (const auto& [label, map] : maps) {
      ProgressBar bar("curves " + label);
      const xai::Faithfulness f = xai::faithfulness(model, x, map, target, co, {&ctx.cancel, bar.callback()});
      bar.done();
      Row& r = row_of(label);
      for (std::size_t b = 0; b < f.deletion.size(); ++b) {
        r.deletion.push_back(f.deletion[b].auc);
        r.insertion.push_back(f.insertion[b].auc);
        r.curves.push_back({{"input", input},
                            {"sample", b},
                            {"fraction", f.deletion[b].fraction},
                            {"deletion", f.deletion[b].score},
                            {"insertion", f.insertion[b].score}});
      }
    }
  }
  std::string csv = "method,samples,deletion_auc,insertion_auc,insertion_minus_deletion\n";
  Json table = Json::array();
  for (const auto& r : rows) {
    const double d = mean(r.deletion), i = mean(r.insertion);
    csv += fmt::format("{},{},{:.6f},{:.6f},{:.6f}\n", r.method, r.deletion.size(), d, i, i - d);
    table.push_back({{"method", r.method}, {"samples", r.deletion.size()}, {"deletion_auc", d}, {"insertion_auc", i}});
  }
  if (!o.out.empty()) write_text_file(o.out, csv);
  if (!o.curves_out.empty()) {
    Json all = Json::object();
    for (const auto& r : rows) all[r.method] = r.curves;
    write_text_file(o.curves_out, all.dump(1) + "\n");
  }
  if (o.json) {
    std::printf("%s\n", table.dump(2).c_str());
    return;
  }
  std::printf("%-16s %8s %14s %14s %10s\n", "method", "samples", "deletion AUC", "insertion AUC", "ins - del");
  for (const auto& r : rows) {
    const double d = mean(r.deletion), i = mean(r.insertion);
    std::printf("%-16s %8zu %14.4f %14.4f %10.4f\n", r.method.c_str(), r.deletion.size(), d, i, i - d);
  }
  std::printf("(deletion: lower is more faithful; insertion: higher is; %s of the class score, %lld steps)\n",
              co.softmax ? "probability" : "raw value", static_cast<long long>(co.steps));
  if (!o.out.empty()) std::printf("wrote %s\n", o.out.c_str());
  if (!o.curves_out.empty()) std::printf("wrote %s\n", o.curves_out.c_str());
}

}  // namespace

void add_evaluate_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<EvaluateOptions>();
  auto* cmd = app.add_subcommand(
      "evaluate", "Faithfulness of attribution methods: deletion and insertion curves and their areas, per method");
  cmd->add_option("model", o->model, "The ONNX model")->required();
  cmd->add_option("inputs", o->inputs, "Inputs: PNG/JPEG images, image folders, NPY (one sample or a batch), NPZ")
      ->required();
  cmd->add_option("--method,-m", o->methods, "Methods compared (default rise,deeplift,ig,gxi)")->delimiter(',');
  cmd->add_option("--map", o->maps, "Also score a precomputed map: LABEL=FILE.npy (for the single input)");
  cmd->add_option("--curve-steps", o->curves.steps, "Points of each curve after the start")->check(CLI::PositiveNumber);
  cmd->add_option("--deletion-substrate", o->deletion, "What deleted features become: zeros, blur or constant:V");
  cmd->add_option("--insertion-substrate", o->insertion, "What insertion starts from: blur, zeros or constant:V");
  cmd->add_option("--sigma", o->curves.sigma, "Blur substrate: Gaussian sigma in samples")->check(CLI::PositiveNumber);
  cmd->add_flag("!--logit-curves", o->curves.softmax, "Curves of the raw score instead of the probability");
  cmd->add_option("-o,--output", o->out, "Write the table as CSV");
  cmd->add_option("--curves", o->curves_out, "Write every curve as JSON");
  cmd->add_flag("--json", o->json, "Print the table as JSON");
  add_method_options(*cmd, o->method);
  add_image_options(*cmd, o->images);
  cmd->callback([o, &ctx] { evaluate(*o, ctx); });
}

}  // namespace paramscope::cli
