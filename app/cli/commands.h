// Subcommands of paramscope-cli. Each registers its options and a callback on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include "paramscope/jobs.h"

namespace paramscope::cli {

/// Exit codes: 0 ok, 1 bad input (a file is missing, malformed or unsupported), 2 usage.
enum ExitCode : int { kOk = 0, kBadInput = 1, kUsage = 2, kCancelled = 130 };

/// Shared by all subcommands: Ctrl-C cancels through this token.
struct Context {
  CancelToken cancel;
  int threads = 0;
  int exit_code = kOk;
};

void add_inspect_command(CLI::App& app, Context& ctx);

}  // namespace paramscope::cli
