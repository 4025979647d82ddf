// Options shared by the importance, mask and compare-criteria subcommands: which checkpoint, which
// criterion with which inputs, and which tensors.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "paramscope/importance.h"

namespace paramscope::cli {

struct CriterionOptions {
  std::string checkpoint;
  std::string criterion;
  std::string base, stats, contrast_stats;
  std::vector<std::string> params;  ///< "key=value"
  std::vector<std::string> include, exclude;
  bool all = false;

  /// Adds --criterion, --base, --stats, --contrast-stats, --param, --tensors, --exclude, --all.
  /// prefix/suffix rename them for a second criterion (compare-criteria: --b-stats, ...).
  void add_to(CLI::App& cmd, bool with_checkpoint = true);
};

/// The checkpoints a command works on, opened once (and shared across the jobs of a job file).
class OpenedInputs {
 public:
  explicit OpenedInputs(Context& ctx) : ctx_(ctx) {}
  const Checkpoint& model(const std::string& path) { return ctx_.open(path); }
  /// The criterion and its inputs; throws Error(Usage) for unknown criteria or bad parameters.
  CriterionInputs inputs(const CriterionOptions& o);
  const Criterion& criterion(const CriterionOptions& o) const;
  TensorSelection selection(const CriterionOptions& o) const;

 private:
  Context& ctx_;
};

/// "10%" -> 0.1, "0.1" -> 0.1; throws Error(Usage).
double parse_fraction(const std::string& s, const std::string& option);

}  // namespace paramscope::cli
