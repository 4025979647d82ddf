// paramscope-cli run MODEL.onnx --input NAME=FILE.npy ... -o OUTDIR [--json]
// Runs an ONNX model on NPY inputs and writes each output as OUTDIR/<output name>.npy.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"
#include "paramscope/npy.h"

namespace paramscope::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;
  bool json = false;
};

std::string input_names(const engine::Model& m) {
  std::string s;
  for (const auto& v : m.inputs()) s += (s.empty() ? "'" : ", '") + v.name + "'";
  return s;
}

// NAME=FILE when NAME is one of the model's inputs; a bare FILE when the model has one input.
std::map<std::string, fs::path> parse_inputs(const std::vector<std::string>& args, const engine::Model& m) {
  std::map<std::string, fs::path> out;
  for (const auto& arg : args) {
    const auto eq = arg.find('=');
    std::string name;
    fs::path file;
    const bool named =
        eq != std::string::npos && std::any_of(m.inputs().begin(), m.inputs().end(),
                                               [&](const engine::ValueInfo& v) { return v.name == arg.substr(0, eq); });
    if (named) {
      name = arg.substr(0, eq);
      file = arg.substr(eq + 1);
    } else if (m.inputs().size() == 1 && args.size() == 1) {
      name = m.inputs()[0].name;
      file = arg;
    } else {
      throw usage_error("--input '" + arg + "': give NAME=FILE.npy with NAME one of the model's inputs (" +
                        input_names(m) + ")");
    }
    if (!out.emplace(name, file).second) throw usage_error("input '" + name + "' is given twice");
  }
  return out;
}

// File names for outputs: characters outside [A-Za-z0-9._-] become '_', and names that collide
// (or would be "." or "..") get a numbered suffix.
std::vector<std::string> file_names(const std::vector<engine::ValueInfo>& outputs) {
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const auto& o : outputs) {
    std::string base;
    for (const char c : o.name) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
      base += ok ? c : '_';
    }
    if (base.find_first_not_of('.') == std::string::npos) base = "output";  // "", ".", ".."
    std::string name = base;
    for (int k = 1; used.count(name); ++k) name = base + "_" + std::to_string(k);
    used.insert(name);
    names.push_back(name);
  }
  return names;
}

void run_model(const RunOptions& o, Context& ctx) {
  const engine::Model model = engine::Model::load(o.model);
  const auto files = parse_inputs(o.inputs, model);
  std::map<std::string, Array> feeds;
  for (const auto& [name, file] : files) {
    Array a = read_npy(file);
    feeds.emplace(name, std::move(a));
  }
  for (const auto& v : model.inputs())
    if (!feeds.count(v.name))
      throw usage_error("input '" + v.name + "' is not given: pass --input " + v.name + "=FILE.npy");
  std::vector<Array> results;
  try {
    results = model.run(feeds, {&ctx.cancel, {}});
  } catch (const Error& e) {
    // Feed mismatches name the input; say which file it came from too.
    const std::string what = e.what();
    if (e.kind() != Error::Kind::Usage || what.rfind("input '", 0) != 0) throw;
    const auto q = what.find('\'', 7);
    const auto it = files.find(what.substr(7, q == std::string::npos ? 0 : q - 7));
    throw it == files.end() ? e : usage_error(what + " (read from " + it->second.string() + ")");
  }

  const fs::path dir(o.output);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw io_error(dir, "cannot create the output folder: " + ec.message());
  const auto names = file_names(model.outputs());
  Json j;
  j["model"] = o.model;
  auto& outs = j["outputs"] = Json::array();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Array& a = results[i];
    const fs::path file = dir / (names[i] + ".npy");
    write_npy(file, a);
    const std::string& name = model.outputs()[i].name;
    if (o.json)
      outs.push_back({{"name", name}, {"path", file.string()}, {"dtype", dtype_name(a.type())}, {"shape", a.shape()}});
    else
      std::printf("%s -> %s (%s %s)\n", name.c_str(), file.string().c_str(), std::string(dtype_name(a.type())).c_str(),
                  shape_string(a.shape()).c_str());
  }
  if (o.json) std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace

void add_run_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Run an ONNX model on NPY inputs and write its outputs as NPY files");
  cmd->add_option("model", o->model, "The ONNX model")->required();
  cmd->add_option("-i,--input", o->inputs,
                  "NAME=FILE.npy for each model input (just FILE.npy when the model has one input)")
      ->required();
  cmd->add_option("-o,--output", o->output, "Folder for the outputs (<output name>.npy)")->required();
  cmd->add_flag("--json", o->json, "List the outputs as JSON");
  cmd->callback([o, &ctx] { run_model(*o, ctx); });
}

}  // namespace paramscope::cli
