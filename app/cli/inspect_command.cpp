// paramscope-cli inspect PATH... [--json] [--stats] [--tensors]
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/stats.h"
#include "progress_bar.h"

namespace paramscope::cli {
namespace {

using nlohmann::ordered_json;

struct InspectOptions {
  std::vector<std::string> paths;
  bool json = false;
  bool stats = false;
  bool tensors = false;
};

std::string grouped(std::uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string human_count(std::uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f}B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::string_view role_name(TensorRole r) {
  switch (r) {
    case TensorRole::Parameter:
      return "parameter";
    case TensorRole::Buffer:
      return "buffer";
    case TensorRole::Optimizer:
      return "optimizer";
  }
  return "parameter";
}

ordered_json shape_json(const Shape& s) {
  ordered_json a = ordered_json::array();
  for (auto d : s) a.push_back(d);
  return a;
}

ordered_json stats_json(const TensorStats& s) {
  ordered_json j;
  j["min"] = s.finite ? ordered_json(s.min) : ordered_json(nullptr);
  j["max"] = s.finite ? ordered_json(s.max) : ordered_json(nullptr);
  j["mean"] = s.mean;
  j["std"] = s.std;
  j["abs_mean"] = s.abs_mean;
  j["nan"] = s.nan;
  j["inf"] = s.inf;
  return j;
}

ordered_json to_json(const Checkpoint& c, const std::vector<TensorStats>* stats) {
  ordered_json j;
  j["path"] = c.path().string();
  j["format"] = c.format();
  j["files"] = ordered_json::array();
  for (const auto& f : c.files()) j["files"].push_back(f.string());
  j["parameters"] = c.parameter_count();
  j["bytes"] = c.byte_count();
  j["tensor_count"] = c.tensors().size();

  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> dtypes;
  std::map<std::string, std::uint64_t> kinds;
  ordered_json tensors = ordered_json::array();
  const auto& h = c.hierarchy();
  for (std::size_t i = 0; i < c.tensors().size(); ++i) {
    const Tensor& t = c.tensors()[i];
    const auto& p = h.place(i);
    ordered_json e;
    e["name"] = t.name();
    e["dtype"] = dtype_name(t.dtype());
    e["shape"] = shape_json(t.shape());
    e["parameters"] = t.numel();
    e["bytes"] = t.nbytes();
    e["role"] = role_name(t.role());
    e["block"] = p.block;
    e["module"] = p.module;
    e["kind"] = module_kind_name(p.kind);
    if (c.files().size() > 1) e["file"] = t.file();
    if (stats) e["stats"] = stats_json((*stats)[i]);
    tensors.push_back(std::move(e));
    auto& d = dtypes[std::string(dtype_name(t.dtype()))];
    d.first += 1;
    d.second += static_cast<std::uint64_t>(t.numel());
    kinds[std::string(module_kind_name(p.kind))] += static_cast<std::uint64_t>(t.numel());
  }
  j["tensors"] = std::move(tensors);
  ordered_json opt = ordered_json::array();
  for (const Tensor& t : c.optimizer_tensors())
    opt.push_back({{"name", t.name()}, {"dtype", dtype_name(t.dtype())}, {"shape", shape_json(t.shape())}});
  j["optimizer_tensors"] = std::move(opt);
  ordered_json blocks = ordered_json::array();
  for (const auto& b : h.blocks())
    blocks.push_back(
        {{"name", b.name}, {"index", b.index}, {"parameters", b.parameters}, {"tensors", b.tensors.size()}});
  j["blocks"] = std::move(blocks);
  ordered_json k = ordered_json::object();
  for (const auto& [name, n] : kinds) k[name] = n;
  j["module_kinds"] = std::move(k);
  ordered_json dt = ordered_json::object();
  for (const auto& [name, v] : dtypes) dt[name] = {{"tensors", v.first}, {"parameters", v.second}};
  j["dtypes"] = std::move(dt);
  ordered_json md = ordered_json::object();
  for (const auto& [key, value] : c.metadata()) md[key] = value;
  j["metadata"] = std::move(md);
  return j;
}

void print_text(const Checkpoint& c, const std::vector<TensorStats>* stats, bool list_tensors) {
  const auto total = c.parameter_count();
  std::printf("%s\n", c.path().string().c_str());
  std::printf("  format      %s (%zu file%s, %s of tensor data)\n", c.format().c_str(), c.files().size(),
              c.files().size() == 1 ? "" : "s", human_bytes(c.byte_count()).c_str());
  std::printf("  tensors     %zu", c.tensors().size());
  if (!c.optimizer_tensors().empty())
    std::printf(" (+ %zu optimizer/trainer-state tensors, not counted as parameters)", c.optimizer_tensors().size());
  std::printf("\n  parameters  %s (%s)\n", grouped(total).c_str(), human_count(total).c_str());

  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> dtypes;
  std::map<std::string, std::uint64_t> kinds;
  const auto& h = c.hierarchy();
  for (std::size_t i = 0; i < c.tensors().size(); ++i) {
    const Tensor& t = c.tensors()[i];
    auto& d = dtypes[std::string(dtype_name(t.dtype()))];
    d.first += 1;
    d.second += static_cast<std::uint64_t>(t.numel());
    kinds[std::string(module_kind_name(h.place(i).kind))] += static_cast<std::uint64_t>(t.numel());
  }
  std::printf("  dtypes      ");
  bool first = true;
  for (const auto& [name, v] : dtypes) {
    std::printf("%s%s: %s tensors, %s params", first ? "" : "; ", name.c_str(), grouped(v.first).c_str(),
                human_count(v.second).c_str());
    first = false;
  }
  std::printf("\n");
  if (!c.metadata().empty()) {
    std::printf("  metadata\n");
    std::size_t shown = 0;
    for (const auto& [k, v] : c.metadata()) {
      if (++shown > 12) {
        std::printf("    ... %zu more (see --json)\n", c.metadata().size() - 12);
        break;
      }
      std::string val = v.size() > 70 ? v.substr(0, 67) + "..." : v;
      std::printf("    %-28s %s\n", k.c_str(), val.c_str());
    }
  }

  auto pct = [&](std::uint64_t n) { return total ? 100.0 * static_cast<double>(n) / static_cast<double>(total) : 0.0; };
  std::printf("\n  %-40s %14s %7s %8s\n", "block", "parameters", "share", "tensors");
  for (const auto& b : h.blocks())
    std::printf("  %-40s %14s %6.2f%% %8zu\n", b.name.empty() ? "(top level)" : b.name.c_str(),
                grouped(b.parameters).c_str(), pct(b.parameters), b.tensors.size());
  std::printf("\n  %-40s %14s %7s\n", "module kind", "parameters", "share");
  for (const auto& [name, n] : kinds) std::printf("  %-40s %14s %6.2f%%\n", name.c_str(), grouped(n).c_str(), pct(n));

  if (list_tensors || stats) {
    std::printf("\n  %-48s %-6s %-18s", "tensor", "dtype", "shape");
    if (stats) std::printf(" %11s %11s %11s %11s %11s %5s %5s", "min", "max", "mean", "std", "abs_mean", "nan", "inf");
    std::printf("\n");
    for (std::size_t i = 0; i < c.tensors().size(); ++i) {
      const Tensor& t = c.tensors()[i];
      std::printf("  %-48s %-6s %-18s", t.name().c_str(), std::string(dtype_name(t.dtype())).c_str(),
                  shape_string(t.shape()).c_str());
      if (stats) {
        const auto& s = (*stats)[i];
        std::printf(" %11.4g %11.4g %11.4g %11.4g %11.4g %5lld %5lld", s.min, s.max, s.mean, s.std, s.abs_mean,
                    static_cast<long long>(s.nan), static_cast<long long>(s.inf));
      }
      std::printf("\n");
    }
  }
  if (!c.optimizer_tensors().empty() && list_tensors) {
    std::printf("\n  optimizer and trainer state (not model parameters)\n");
    for (const Tensor& t : c.optimizer_tensors())
      std::printf("  %-48s %-6s %s\n", t.name().c_str(), std::string(dtype_name(t.dtype())).c_str(),
                  shape_string(t.shape()).c_str());
  }
}

void run_inspect(const InspectOptions& opt, Context& ctx) {
  ThreadPool& pool = ctx.pool();

  ordered_json all = ordered_json::array();
  for (const auto& path : opt.paths) {
    try {
      const Checkpoint c = open_checkpoint(path);
      std::optional<std::vector<TensorStats>> stats;
      if (opt.stats) {
        ProgressBar bar("stats " + c.path().filename().string(), "elem", stored_bytes_per_element(c));
        JobControl control{&ctx.cancel, bar.callback()};
        stats = compute_stats(c, pool, control);
      }
      if (opt.json)
        all.push_back(to_json(c, stats ? &*stats : nullptr));
      else
        print_text(c, stats ? &*stats : nullptr, opt.tensors);
    } catch (const Error& e) {
      if (e.kind() == Error::Kind::Cancelled) throw;
      std::fprintf(stderr, "paramscope-cli: %s\n", e.what());
      ctx.exit_code = e.kind() == Error::Kind::Usage ? kUsage : kBadInput;
    }
    if (!opt.json && &path != &opt.paths.back()) std::printf("\n");
  }
  if (opt.json && !all.empty()) {
    // One path: one object; several: an array of them.
    const auto& out = all.size() == 1 && opt.paths.size() == 1 ? all[0] : all;
    std::printf("%s\n", out.dump(2).c_str());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect",
                                 "Show what a checkpoint holds: format, tensors, parameters per block and "
                                 "module kind, dtypes; --stats streams every tensor for statistics.");
  cmd->add_option("path", opt->paths, "Checkpoint files or folders (safetensors, PyTorch, Keras .h5, ONNX, GGUF)")
      ->required();
  cmd->add_flag("--json", opt->json, "Print one JSON object (an array of them for several paths)");
  cmd->add_flag("--stats", opt->stats, "Stream every tensor: min, max, mean, std, abs-mean, NaN and Inf counts");
  cmd->add_flag("--tensors", opt->tensors, "List every tensor (text output)");
  cmd->callback([opt, &ctx] { run_inspect(*opt, ctx); });
}

}  // namespace paramscope::cli
