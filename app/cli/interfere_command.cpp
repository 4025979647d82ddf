// paramscope-cli interfere BASE FT1 FT2 [FT3 ...] -o report/ [--top 20%] [--include G] [--exclude G]
//   [--criterion NAME [--stats FILE]... [--param K=V]...]
//   [--tensor NAME [--method ties] [--density D]... [--weight W]... [--seed S]] [--json]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "criterion_options.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "paramscope/interference.h"
#include "paramscope/map_io.h"
#include "paramscope/writers.h"
#include "progress_bar.h"

namespace paramscope::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct InterfereOptions {
  std::vector<std::string> checkpoints;  // base, then the fine-tunes
  std::string output, top = "20%";
  std::vector<std::string> include, exclude;
  std::string criterion;
  std::vector<std::string> stats, params;
  std::string tensor, method = "ties";
  std::vector<double> density, weight;
  std::uint64_t seed = 0;
  bool json = false;
};

// JSON has no NaN or infinity: undefined (0/0) and infinite metrics are written as null.
Json number(double v) {
  return std::isfinite(v) ? Json(v) : Json(nullptr);
}

std::string csv_number(double v) {
  return fmt::format("{}", v);  // shortest round trip; "nan" / "inf" where undefined or infinite
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

Json stats_json(const InterferenceStats& s) {
  Json j;
  j["name"] = s.name;
  j["numel"] = s.numel;
  auto& models = j["models"] = Json::array();
  for (const ModelSums& m : s.models) {
    const double n = static_cast<double>(s.numel);
    models.push_back({{"norm", std::sqrt(m.sq)},
                      {"mean_abs", number(s.numel ? m.abs / n : NAN)},
                      {"nonzero_fraction", number(s.numel ? static_cast<double>(m.nonzero) / n : NAN)},
                      {"top_conflict", number(m.top ? static_cast<double>(m.top_conflicts) / static_cast<double>(m.top)
                                                    : NAN)},
                      {"sums",
                       {{"sq", m.sq},
                        {"abs", m.abs},
                        {"nonzero", m.nonzero},
                        {"top", m.top},
                        {"top_conflicts", m.top_conflicts}}}});
  }
  auto& pairs = j["pairs"] = Json::array();
  for (const PairMetrics& p : s.pairs) {
    const PairSums& q = p.sums;
    pairs.push_back({{"a", p.a},
                     {"b", p.b},
                     {"cosine", number(p.cosine())},
                     {"l2", number(p.l2_distance())},
                     {"sign_conflict", number(p.sign_conflict())},
                     {"top_conflict", number(p.top_conflict())},
                     {"jaccard", number(p.jaccard())},
                     {"magnitude_ratio", number(p.magnitude_ratio())},
                     {"sums",
                      {{"dot", q.dot},
                       {"sq_a", q.sq_a},
                       {"sq_b", q.sq_b},
                       {"sq_diff", q.sq_diff},
                       {"both_nonzero", q.both_nonzero},
                       {"sign_conflicts", q.sign_conflicts},
                       {"top_both", q.top_both},
                       {"top_either", q.top_either},
                       {"top_both_conflicts", q.top_both_conflicts}}}});
  }
  const GroupSums& g = s.group;
  j["group"] = {{"sign_conflict", number(g.sign_conflict())},
                {"top_conflict", number(g.top_conflict())},
                {"sums",
                 {{"entries", g.entries},
                  {"multi_nonzero", g.multi_nonzero},
                  {"sign_conflicts", g.sign_conflicts},
                  {"top_multi", g.top_multi},
                  {"top_conflicts", g.top_conflicts}}}};
  return j;
}

Json header_json(const InterferenceReport& r) {
  Json j;
  j["base"] = r.base;
  j["models"] = r.models;
  j["top_fraction"] = r.top_fraction;
  return j;
}

Json report_json(const InterferenceReport& r) {
  Json j = header_json(r);
  j["overall"] = stats_json(r.overall);
  auto& blocks = j["blocks"] = Json::array();
  for (const auto& b : r.blocks) blocks.push_back(stats_json(b));
  auto& tensors = j["tensors"] = Json::array();
  for (std::size_t i = 0; i < r.tensors.size(); ++i) {
    Json t = stats_json(r.tensors[i]);
    t["block"] = r.tensor_blocks[i];
    tensors.push_back(std::move(t));
  }
  auto& mags = j["magnitudes"] = Json::array();
  for (const auto& h : r.magnitudes)
    mags.push_back(
        {{"log10_lo", h.log10_lo}, {"log10_hi", h.log10_hi}, {"counts", h.counts}, {"zeros", h.zeros}, {"nans", h.nans}});
  return j;
}

std::string pairs_csv(const InterferenceReport& r) {
  std::string out = "scope,name,a,b,cosine,l2,sign_conflict,top_conflict,jaccard,magnitude_ratio\n";
  const auto rows = [&out](const char* scope, const InterferenceStats& s) {
    for (const PairMetrics& p : s.pairs)
      out += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", scope, csv_field(s.name), p.a, p.b, csv_number(p.cosine()),
                         csv_number(p.l2_distance()), csv_number(p.sign_conflict()), csv_number(p.top_conflict()),
                         csv_number(p.jaccard()), csv_number(p.magnitude_ratio()));
  };
  rows("model", r.overall);
  for (const auto& b : r.blocks) rows("block", b);
  for (const auto& t : r.tensors) rows("tensor", t);
  return out;
}

// One row per tensor or block: per-model norms and top-k conflict rates, the group's rates.
std::string stats_csv(const std::vector<InterferenceStats>& list, const std::vector<std::string>* blocks,
                      std::size_t models) {
  std::string out = blocks ? "name,block,numel" : "block,numel";
  for (std::size_t i = 0; i < models; ++i) out += fmt::format(",norm_{}", i);
  for (std::size_t i = 0; i < models; ++i) out += fmt::format(",top_conflict_{}", i);
  out += ",sign_conflict,top_conflict,multi_nonzero,sign_conflicts,top_multi,top_conflicts\n";
  for (std::size_t k = 0; k < list.size(); ++k) {
    const InterferenceStats& s = list[k];
    out += csv_field(s.name);
    if (blocks) out += "," + csv_field((*blocks)[k]);
    out += fmt::format(",{}", s.numel);
    for (const auto& m : s.models) out += "," + csv_number(std::sqrt(m.sq));
    for (const auto& m : s.models)
      out += "," + csv_number(m.top ? static_cast<double>(m.top_conflicts) / static_cast<double>(m.top) : NAN);
    const GroupSums& g = s.group;
    out += fmt::format(",{},{},{},{},{},{}\n", csv_number(g.sign_conflict()), csv_number(g.top_conflict()),
                       g.multi_nonzero, g.sign_conflicts, g.top_multi, g.top_conflicts);
  }
  return out;
}

std::string magnitudes_csv(const InterferenceReport& r) {
  std::string out = "model,kind,log10_lo,log10_hi,count\n";
  for (std::size_t i = 0; i < r.magnitudes.size(); ++i) {
    const MagnitudeHistogram& h = r.magnitudes[i];
    const double span = h.log10_hi - h.log10_lo, bins = static_cast<double>(h.counts.size());
    const auto edge = [&](std::size_t k) { return h.log10_lo + span * static_cast<double>(k) / bins; };
    for (std::size_t k = 0; k < h.counts.size(); ++k)
      out += fmt::format("{},bin,{},{},{}\n", i, csv_number(edge(k)), csv_number(edge(k + 1)), h.counts[k]);
    out += fmt::format("{},zero,,,{}\n{},nan,,,{}\n", i, h.zeros, i, h.nans);
  }
  return out;
}

template <typename T>
TensorToWrite map_data(const std::string& name, DType dtype, const Shape& shape, const std::vector<T>& v) {
  return TensorToWrite::from_bytes(name, dtype, shape, std::as_bytes(std::span(v)));
}

std::vector<fs::path> write_elements(const fs::path& dir, const ElementInterference& e, const MergeParams& p,
                                     const std::vector<MergeInput>& inputs) {
  Json params;
  params["method"] = merge_method_name(p.method);
  params["normalize"] = p.normalize;
  params["rescale"] = p.rescale;
  params["lambda"] = p.lambda;
  params["seed"] = p.seed;
  auto& per_model = params["models"] = Json::array();
  Json models = Json::array();
  for (const auto& in : inputs) {
    per_model.push_back({{"weight", in.params.weight}, {"density", in.params.density}});
    models.push_back(in.checkpoint->path().string());
  }
  const std::vector<TensorToWrite> maps = {map_data("elected_sign", DType::I8, e.shape, e.elected_sign),
                                           map_data("disagree", DType::U8, e.shape, e.disagree),
                                           map_data("dominant", DType::I8, e.shape, e.dominant),
                                           map_data("contributes", DType::U32, e.shape, e.contributes),
                                           map_data("merged_delta", DType::F32, e.shape, e.merged_delta)};
  const std::vector<Hdf5Attribute> attrs = {{"tensor", e.tensor, 0, false},
                                            {"method", std::string(merge_method_name(p.method)), 0, false},
                                            {"params", params.dump(), 0, false},
                                            {"models", models.dump(), 0, false}};
  const std::string stem = file_name_for(e.tensor);
  fs::create_directories(dir / stem);
  std::vector<Hdf5Dataset> datasets;
  std::vector<fs::path> files;
  for (const auto& m : maps) {
    datasets.push_back({m.name, m, {}});
    files.push_back(dir / stem / (m.name + ".npy"));
    write_npy(files.back(), m);
  }
  Json meta = {{"tensor", e.tensor}, {"shape", e.shape}, {"params", params}, {"models", models}};
  files.push_back(dir / stem / "maps.json");
  write_text_file(files.back(), meta.dump(2) + "\n");
  files.push_back(dir / (stem + ".h5"));
  write_hdf5(files.back(), datasets, attrs);
  return files;
}

std::string pct(double v) {
  return std::isfinite(v) ? fmt::format("{:6.2f}%", 100 * v) : std::string("     --");
}

void print_summary(const InterferenceReport& r) {
  const std::size_t n = r.models.size();
  std::printf("interference of %zu fine-tuned models against %s: %zu tensors, %lld entries, top %.4g%%\n", n,
              r.base.c_str(), r.tensors.size(), static_cast<long long>(r.overall.numel), 100 * r.top_fraction);
  for (std::size_t i = 0; i < n; ++i)
    std::printf("  [%zu] %s  |tau| = %.6g\n", i, r.models[i].c_str(), std::sqrt(r.overall.models[i].sq));
  std::printf("  cosine of task vectors\n       ");
  for (std::size_t b = 0; b < n; ++b) std::printf(" %8zu", b);
  std::printf("\n");
  for (std::size_t a = 0; a < n; ++a) {
    std::printf("  %4zu ", a);
    for (std::size_t b = 0; b < n; ++b) {
      double c = 1;
      if (a != b)
        for (const auto& p : r.overall.pairs)
          if ((p.a == a && p.b == b) || (p.a == b && p.b == a)) c = p.cosine();
      if (a == b && r.overall.models[a].sq == 0) c = NAN;
      if (std::isfinite(c))
        std::printf(" %8.4f", c);
      else
        std::printf(" %8s", "--");
    }
    std::printf("\n");
  }
  const GroupSums& g = r.overall.group;
  std::printf("  sign conflicts: %s of %lld entries with two or more non-zero deltas; within the top-k: %s of %lld\n",
              pct(g.sign_conflict()).c_str(), static_cast<long long>(g.multi_nonzero), pct(g.top_conflict()).c_str(),
              static_cast<long long>(g.top_multi));
  std::vector<const InterferenceStats*> blocks;
  for (const auto& b : r.blocks) blocks.push_back(&b);
  const auto rate = [](const InterferenceStats* s) {
    const double v = s->group.sign_conflict();
    return std::isfinite(v) ? v : -1.0;
  };
  std::stable_sort(blocks.begin(), blocks.end(), [&](auto* a, auto* b) { return rate(a) > rate(b); });
  if (blocks.size() > 5) blocks.resize(5);
  std::printf("  blocks with the most sign conflicts\n  %-40s %12s %9s %9s\n", "block", "entries", "conflict", "top-k");
  for (const auto* b : blocks)
    std::printf("  %-40s %12lld %9s %9s\n", b->name.empty() ? "(top level)" : b->name.c_str(),
                static_cast<long long>(b->numel), pct(b->group.sign_conflict()).c_str(),
                pct(b->group.top_conflict()).c_str());
}

// Per-model value lists: none (the default), one for every model, or one per model.
std::vector<double> per_model(const std::vector<double>& given, double fallback, std::size_t models,
                              const char* option) {
  if (given.empty()) return std::vector<double>(models, fallback);
  if (given.size() == 1) return std::vector<double>(models, given[0]);
  if (given.size() != models)
    throw usage_error(fmt::format("{}: {} values for {} fine-tuned models (give one, or one per model)", option,
                                  given.size(), models));
  return given;
}

void run_interfere(const InterfereOptions& o, Context& ctx) {
  if (o.checkpoints.size() < 3)
    throw usage_error("interfere: needs a base and at least two fine-tuned checkpoints, got " +
                      std::to_string(o.checkpoints.size()) + " checkpoint(s)");
  InterferenceOptions opt;
  opt.top_fraction = parse_fraction(o.top, "--top");
  if (opt.top_fraction <= 0) throw usage_error("--top " + o.top + ": must be above 0");
  opt.include = o.include;
  opt.exclude = o.exclude;
  if (o.criterion.empty() && (!o.stats.empty() || !o.params.empty()))
    throw usage_error("interfere: --stats and --param go with --criterion");
  if (o.tensor.empty() && (!o.density.empty() || !o.weight.empty()))
    throw usage_error("interfere: --density and --weight set the element maps' preview: they go with --tensor");

  const Checkpoint& base = ctx.open(o.checkpoints.front());
  std::vector<const Checkpoint*> models;
  std::vector<MergeInput> inputs;
  for (std::size_t i = 1; i < o.checkpoints.size(); ++i) {
    models.push_back(&ctx.open(o.checkpoints[i]));
    inputs.push_back({models.back(), {}});
  }
  check_merge_alignment(base, inputs);

  if (!o.criterion.empty()) {
    // Overlap scores: the criterion on each fine-tune, with the base as its delta reference.
    if (!o.stats.empty() && o.stats.size() != models.size())
      throw usage_error(fmt::format("interfere: {} --stats files for {} fine-tuned models (give one per model)",
                                    o.stats.size(), models.size()));
    TensorSelection sel{o.include, o.exclude, true};
    const auto selected = select_tensors(base, sel);
    OpenedInputs opened(ctx);
    for (std::size_t i = 0; i < models.size(); ++i) {
      CriterionOptions co;
      co.criterion = o.criterion;
      co.params = o.params;
      if (!o.stats.empty()) co.stats = o.stats[i];
      CriterionInputs in = opened.inputs(co);
      in.base = &base;
      std::unordered_map<std::string, std::size_t> index;
      for (std::size_t k = 0; k < models[i]->tensors().size(); ++k) index.emplace(models[i]->tensors()[k].name(), k);
      std::vector<std::size_t> tensors;
      for (const std::size_t t : selected) tensors.push_back(index.at(base.tensors()[t].name()));
      opt.overlap_scores.push_back(make_score_field(*models[i], tensors, opened.criterion(co), in));
    }
  }

  std::optional<MergeParams> preview;
  if (!o.tensor.empty()) {
    const auto m = merge_method_from_name(o.method);
    if (!m) throw usage_error("--method " + o.method + ": expected one of " + merge_method_names());
    preview = default_merge_params(*m);
    preview->seed = o.seed;
    const auto d = per_model(o.density, opt.top_fraction, models.size(), "--density");
    const auto w = per_model(o.weight, 1.0, models.size(), "--weight");
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      inputs[i].params.density = d[i];
      inputs[i].params.weight = w[i];
    }
    check_merge_params(*preview, inputs);
    if (!base.find(o.tensor)) throw usage_error(base.path().string() + ": no tensor '" + o.tensor + "'");
  }

  ProgressBar bar("interfere", "elem");
  const InterferenceReport report = analyze_interference(base, models, opt, ctx.pool(), {&ctx.cancel, bar.callback()});
  bar.done();
  std::optional<ElementInterference> elements;
  if (preview) {
    ProgressBar ebar("element maps", "elem");
    elements = element_interference(base, inputs, o.tensor, *preview, ctx.pool(), {&ctx.cancel, ebar.callback()});
    ebar.done();
  }

  const fs::path dir = o.output;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw io_error(dir, "cannot create folder" + (ec ? ": " + ec.message() : ""));
  std::vector<fs::path> files = {dir / "interference.json", dir / "pairs.csv", dir / "tensors.csv",
                                 dir / "blocks.csv", dir / "magnitudes.csv"};
  write_text_file(files[0], report_json(report).dump(2) + "\n");
  write_text_file(files[1], pairs_csv(report));
  write_text_file(files[2], stats_csv(report.tensors, &report.tensor_blocks, models.size()));
  write_text_file(files[3], stats_csv(report.blocks, nullptr, models.size()));
  write_text_file(files[4], magnitudes_csv(report));
  if (elements) {
    const auto written = write_elements(dir / "elements", *elements, *preview, inputs);
    files.insert(files.end(), written.begin(), written.end());
  }
  const auto figures = write_interference_figures(report, elements ? &*elements : nullptr, dir / "figures");
  files.insert(files.end(), figures.begin(), figures.end());

  if (o.json) {
    Json j = header_json(report);
    j["tensors"] = report.tensors.size();
    j["overall"] = stats_json(report.overall);
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  print_summary(report);
  for (const auto& f : files) std::printf("wrote %s\n", f.string().c_str());
}

}  // namespace

void add_interfere_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<InterfereOptions>();
  auto* cmd = app.add_subcommand(
      "interfere",
      "Where fine-tuned models interfere: cosine, L2, sign conflicts, top-k overlap and magnitude ratios of their "
      "task vectors per tensor, block and model (CSV + JSON), and element maps of one tensor.");
  cmd->add_option("checkpoints", o->checkpoints, "BASE FT1 FT2 [FT3 ...]: the base, then the fine-tuned checkpoints")
      ->required();
  cmd->add_option("-o,--output", o->output, "Report folder")->required();
  cmd->add_option("--top", o->top, "Fraction of each tensor's entries in a model's top-k (0.2 or 20%)")
      ->capture_default_str();
  cmd->add_option("--include,--tensors,-t", o->include,
                  "Analyse only tensors matching these globs ('*' any run, '?' one char; default: every float tensor)");
  cmd->add_option("--exclude", o->exclude, "Leave out tensors matching these globs");
  cmd->add_option("--criterion,-c", o->criterion,
                  "Rank the top-k by this importance criterion of each fine-tune (base as --base) instead of |tau|");
  cmd->add_option("--stats", o->stats, "Statistics safetensors for the criterion, one per fine-tuned model, in order");
  cmd->add_option("--param,-p", o->params, "Criterion parameter KEY=VALUE (repeatable)");
  cmd->add_option("--tensor", o->tensor, "Also write element maps of this tensor (elements/<tensor>.h5 and .npy)");
  cmd->add_option("--method", o->method, "Merge method previewed in the element maps (" + merge_method_names() + ")")
      ->capture_default_str();
  cmd->add_option("--density", o->density, "Preview density: one for all models or one per model (default: --top)");
  cmd->add_option("--weight", o->weight, "Preview weight: one for all models or one per model (default: 1)");
  cmd->add_option("--seed", o->seed, "Seed of DARE's random drop in the preview")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the overall metrics as JSON");
  cmd->callback([o, &ctx] { run_interfere(*o, ctx); });
}

}  // namespace paramscope::cli
