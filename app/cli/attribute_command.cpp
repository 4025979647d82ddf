// paramscope-cli attribute MODEL.onnx INPUT... --method rise|deeplift|deeplift-shap|ig|gxi|smoothgrad -o OUT/
// Attribution maps for each input file and method: NPY per map, one HDF5 file with all of them,
// a JSON summary, and PNG overlays where the figures library is built.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attribution_methods.h"
#include "attribution_overlays.h"
#include "commands.h"
#include "paramscope/error.h"
#include "paramscope/map_io.h"
#include "paramscope/npy.h"
#include "paramscope/writers.h"
#include "progress_bar.h"
#include "sample_sources.h"

namespace paramscope::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct AttributeOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> methods{"rise"};
  MethodOptions method;
  SampleOptions images;
  std::string out;
  bool no_png = false;
  bool json = false;
};

// A dataset over an array kept alive in `keep` until the HDF5 file is written (Array copies share
// their data, so the bytes stay where they are while `keep` grows).
TensorToWrite kept(std::vector<Array>& keep, std::string name, Array a) {
  keep.push_back(std::move(a));
  const Array& k = keep.back();
  return TensorToWrite::from_bytes(std::move(name), k.type(), Shape(k.shape().begin(), k.shape().end()),
                                   {k.bytes(), k.byte_size()});
}

template <class T>
Array vector_array(const std::vector<T>& v) {
  return Array::of<T>({static_cast<std::int64_t>(v.size())}, std::span<const T>(v));
}

void attribute(const AttributeOptions& o, Context& ctx) {
  const engine::Model model = engine::Model::load(o.model);
  for (const auto& m : o.methods)
    if (std::find(method_names().begin(), method_names().end(), m) == method_names().end())
      throw usage_error("--method '" + m + "': expected one of rise, deeplift, deeplift-shap, ig, gxi, smoothgrad");
  const fs::path dir(o.out);
  fs::create_directories(dir);
  std::vector<Hdf5Dataset> datasets;
  std::vector<Array> keep;  // what the HDF5 datasets read from
  Json summary = {{"model", o.model}, {"maps", Json::array()}};
  std::vector<std::string> written;
  for (const auto& input : o.inputs) {
    SampleOptions so = o.images;
    so.data = input;
    so.input_name = o.method.input_name;
    const Array x = read_samples(so, model);
    const std::string stem = file_name_for(fs::path(input).stem().string());
    for (const auto& method : o.methods) {
      ProgressBar bar(method + " " + stem);
      const xai::Attribution a = run_method(model, x, method, o.method, {&ctx.cancel, bar.callback()});
      bar.done();
      const std::string base = stem + "." + method;
      write_npy(dir / (base + ".npy"), a.map);
      written.push_back((dir / (base + ".npy")).string());
      std::vector<Hdf5Attribute> attrs{{"method", method, 0, false}, {"input", input, 0, false}};
      if (!o.method.layer.empty() && method.starts_with("deeplift"))
        attrs.push_back({"layer", o.method.layer, 0, false});
      const std::string group = stem + "/" + method + "/";
      datasets.push_back({group + "map", kept(keep, "map", a.map.cast(DType::F32)), attrs});
      datasets.push_back({group + "classes", kept(keep, "classes", vector_array(a.classes)), {}});
      datasets.push_back({group + "score", kept(keep, "score", vector_array(a.score)), {}});
      if (!a.baseline_score.empty())
        datasets.push_back(
            {group + "baseline_score", kept(keep, "baseline_score", vector_array(a.baseline_score)), {}});
      if (!a.delta.empty()) datasets.push_back({group + "delta", kept(keep, "delta", vector_array(a.delta)), {}});
      for (std::size_t b = 0; b < a.classes.size(); ++b) {
        Json row = {
            {"input", input}, {"sample", b}, {"method", method}, {"class", a.classes[b]}, {"score", a.score[b]}};
        if (!a.baseline_score.empty()) row["baseline_score"] = a.baseline_score[b];
        if (!a.delta.empty()) row["delta"] = a.delta[b];
        row["npy"] = base + ".npy";
        summary["maps"].push_back(row);
        if (!o.json)
          std::printf("%-24s %3zu %-14s class %3lld score %10.5f%s\n", stem.c_str(), b, method.c_str(),
                      static_cast<long long>(a.classes[b]), a.score[b],
                      a.delta.empty() ? "" : fmt::format("  sum - (f(x) - f(x0)) = {:+.2e}", a.delta[b]).c_str());
      }
      if (!o.no_png)
        for (const auto& f : write_attribution_overlays(x, a, method, dir / base, o.method.axes)) written.push_back(f);
    }
  }
  write_hdf5(dir / "attributions.h5", datasets, {{"model", o.model, 0, false}});
  written.push_back((dir / "attributions.h5").string());
  write_text_file(dir / "summary.json", summary.dump(2) + "\n");
  written.push_back((dir / "summary.json").string());
  if (o.json) {
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    for (const auto& f : written) std::printf("wrote %s\n", f.c_str());
  }
}

}  // namespace

void add_attribute_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<AttributeOptions>();
  auto* cmd = app.add_subcommand("attribute", "Attribution maps (RISE, DeepLIFT, IG, ...) of an ONNX classifier");
  cmd->add_option("model", o->model, "The ONNX model")->required();
  cmd->add_option("inputs", o->inputs, "Inputs: PNG/JPEG images, image folders, NPY (one sample or a batch), NPZ")
      ->required();
  cmd->add_option("--method,-m", o->methods, "rise, deeplift, deeplift-shap, ig, gxi, smoothgrad (several: a,b)")
      ->delimiter(',');
  cmd->add_option("-o,--output", o->out, "Output folder")->required();
  cmd->add_flag("--no-png", o->no_png, "Do not write PNG overlays");
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  add_method_options(*cmd, o->method);
  add_image_options(*cmd, o->images);
  cmd->callback([o, &ctx] { attribute(*o, ctx); });
}

}  // namespace paramscope::cli
