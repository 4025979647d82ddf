// paramscope-cli compare-criteria CKPT --a NAME --b NAME [--top 10%] [-o report.csv|json]
#include <cmath>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "criterion_options.h"
#include "paramscope/compare.h"
#include "paramscope/error.h"
#include "paramscope/writers.h"
#include "progress_bar.h"

namespace paramscope::cli {
namespace {

struct CompareOptions {
  std::string checkpoint;
  CriterionOptions a, b;
  std::string top = "10%";
  std::string output;
  bool json = false;
};

nlohmann::ordered_json agreement_json(const CriteriaAgreement& x) {
  auto num = [](double v) { return std::isnan(v) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v); };
  return {
      {"name", x.name}, {"elements", x.elements}, {"spearman", num(x.spearman)}, {"topk_jaccard", num(x.topk_jaccard)}};
}

void run_compare(CompareOptions o, Context& ctx) {
  o.a.checkpoint = o.b.checkpoint = o.checkpoint;
  // One tensor selection for both (given once, on the command line's shared options).
  o.b.include = o.a.include;
  o.b.exclude = o.a.exclude;
  o.b.all = o.a.all;
  OpenedInputs opened(ctx);
  const Checkpoint& model = opened.model(o.checkpoint);
  const auto tensors = select_tensors(model, opened.selection(o.a));
  const auto in_a = opened.inputs(o.a), in_b = opened.inputs(o.b);
  const auto fa = make_score_field(model, tensors, opened.criterion(o.a), in_a);
  const auto fb = make_score_field(model, tensors, opened.criterion(o.b), in_b);
  const double top = parse_fraction(o.top, "--top");
  ProgressBar bar("compare", "elem", stored_bytes_per_element(model, tensors));
  const CriteriaComparison c = compare_criteria(*fa, *fb, top, ctx.pool(), {&ctx.cancel, bar.callback()});
  bar.done();

  nlohmann::ordered_json j;
  j["a"] = o.a.criterion;
  j["b"] = o.b.criterion;
  j["top_fraction"] = c.top_fraction;
  j["overall"] = agreement_json(c.overall);
  auto& blocks = j["blocks"] = nlohmann::ordered_json::array();
  for (const auto& x : c.blocks) blocks.push_back(agreement_json(x));
  auto& ts = j["tensors"] = nlohmann::ordered_json::array();
  for (const auto& x : c.tensors) ts.push_back(agreement_json(x));
  if (!o.output.empty()) {
    if (o.output.size() > 5 && o.output.compare(o.output.size() - 5, 5, ".json") == 0) {
      write_text_file(o.output, j.dump(2) + "\n");
    } else {
      std::string csv = "level,name,elements,spearman,topk_jaccard\n";
      auto row = [&](const char* level, const CriteriaAgreement& x) {
        csv += fmt::format("{},{},{},{:.9g},{:.9g}\n", level, x.name, x.elements, x.spearman, x.topk_jaccard);
      };
      row("all", c.overall);
      for (const auto& x : c.blocks) row("block", x);
      for (const auto& x : c.tensors) row("tensor", x);
      write_text_file(o.output, csv);
    }
  }
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s: %s vs %s, top %.4g%%\n", model.path().string().c_str(), o.a.criterion.c_str(), o.b.criterion.c_str(),
              100 * top);
  std::printf("  %-48s %14s %10s %10s\n", "", "elements", "spearman", "jaccard");
  auto line = [](const CriteriaAgreement& x) {
    std::printf("  %-48s %14lld %10.4f %10.4f\n", x.name.empty() ? "(top level)" : x.name.c_str(),
                static_cast<long long>(x.elements), x.spearman, x.topk_jaccard);
  };
  line(c.overall);
  for (const auto& x : c.blocks) line(x);
  if (!o.output.empty()) std::printf("wrote %s\n", o.output.c_str());
}

}  // namespace

void add_compare_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CompareOptions>();
  auto* cmd = app.add_subcommand("compare-criteria",
                                 "Compare two criteria on the same weights: Spearman rank "
                                 "correlation and top-k overlap (Jaccard), per tensor and block.");
  cmd->add_option("checkpoint", o->checkpoint, "Checkpoint file or folder")->required();
  cmd->add_option("--a", o->a.criterion, "First criterion")->required();
  cmd->add_option("--b", o->b.criterion, "Second criterion")->required();
  cmd->add_option("--a-stats", o->a.stats, "Statistics for the first criterion");
  cmd->add_option("--b-stats", o->b.stats, "Statistics for the second criterion");
  cmd->add_option("--base", o->a.base, "Base checkpoint (delta criteria, either side)");
  cmd->add_option("--a-param", o->a.params, "Parameter KEY=VALUE of the first criterion");
  cmd->add_option("--b-param", o->b.params, "Parameter KEY=VALUE of the second criterion");
  cmd->add_option("--tensors,-t", o->a.include, "Compare only tensors matching these globs");
  cmd->add_option("--exclude", o->a.exclude, "Leave out tensors matching these globs");
  cmd->add_flag("--all", o->a.all, "Every floating-point tensor");
  cmd->add_option("--top", o->top, "Top fraction for the overlap (10% or 0.1)")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "Report: FILE.csv or FILE.json");
  cmd->add_flag("--json", o->json, "Print the report as JSON");
  cmd->callback([o, &ctx] {
    CompareOptions copy = *o;
    copy.b.base = copy.a.base;
    run_compare(std::move(copy), ctx);
  });
}

}  // namespace paramscope::cli
