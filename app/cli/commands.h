// Subcommands of paramscope-cli. Each registers its options and a callback on the CLI11 app.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "paramscope/checkpoint.h"
#include "paramscope/jobs.h"

namespace paramscope {
struct InterferenceReport;
struct ElementInterference;
}  // namespace paramscope

namespace paramscope::cli {

/// Exit codes: 0 ok, 1 bad input (a file is missing, malformed or unsupported), 2 usage.
enum ExitCode : int { kOk = 0, kBadInput = 1, kUsage = 2, kCancelled = 130 };

/// Shared by all subcommands: Ctrl-C cancels through this token; checkpoints are opened once
/// per process (a job file may name the same one many times).
struct Context {
  CancelToken cancel;
  int threads = 0;
  int exit_code = kOk;

  const Checkpoint& open(const std::string& path);
  ThreadPool& pool();

 private:
  std::map<std::string, std::unique_ptr<Checkpoint>> opened_;
  std::unique_ptr<ThreadPool> pool_;
};

void add_inspect_command(CLI::App& app, Context& ctx);
void add_criteria_command(CLI::App& app, Context& ctx);
void add_importance_command(CLI::App& app, Context& ctx);
void add_mask_command(CLI::App& app, Context& ctx);
void add_compare_command(CLI::App& app, Context& ctx);
void add_jobs_command(CLI::App& app, Context& ctx);
void add_merge_command(CLI::App& app, Context& ctx);
void add_interfere_command(CLI::App& app, Context& ctx);
void add_run_command(CLI::App& app, Context& ctx);
void add_calibrate_command(CLI::App& app, Context& ctx);
void add_eval_command(CLI::App& app, Context& ctx);
void add_attribute_command(CLI::App& app, Context& ctx);
void add_evaluate_command(CLI::App& app, Context& ctx);
/// Only in builds with the figures library (the GUI's); elsewhere `render` says so.
void add_render_command(CLI::App& app, Context& ctx);

/// Figures of an interference report (and of the element maps, when given) written into dir;
/// returns the files written. Defined with the figures library (the GUI's); builds without it
/// (interfere_figures_unavailable.cpp) write none and say so on stderr.
std::vector<std::filesystem::path> write_interference_figures(const InterferenceReport& report,
                                                              const ElementInterference* elements,
                                                              const std::filesystem::path& dir);

/// Registers every subcommand (the job runner builds a fresh app per job with it).
void add_all_commands(CLI::App& app, Context& ctx);

}  // namespace paramscope::cli
