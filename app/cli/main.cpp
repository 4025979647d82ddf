// paramscope-cli: everything ParamScope computes, from the command line.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "paramscope/error.h"

namespace {
paramscope::cli::Context* g_ctx = nullptr;

extern "C" void on_sigint(int) {
  // First Ctrl-C asks running work to stop at the next chunk; a second one kills the process.
  if (g_ctx) g_ctx->cancel.cancel();
  std::signal(SIGINT, SIG_DFL);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace paramscope;
  cli::Context ctx;
  g_ctx = &ctx;
  std::signal(SIGINT, on_sigint);

  CLI::App app{"ParamScope: where a neural network's parameter importance lives.", "paramscope-cli"};
  app.set_version_flag("--version", "paramscope-cli 0.1.0");
  app.require_subcommand(1);
  app.add_option("--threads", ctx.threads, "Worker threads (default: all cores, or PARAMSCOPE_THREADS)")
      ->check(CLI::NonNegativeNumber);
  app.fallthrough();
  cli::add_all_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? cli::kOk : cli::kUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "paramscope-cli: %s\n", e.what());
    switch (e.kind()) {
      case Error::Kind::Usage:
        return cli::kUsage;
      case Error::Kind::Cancelled:
        return cli::kCancelled;
      default:
        return cli::kBadInput;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paramscope-cli: internal error: %s\n", e.what());
    return 3;
  }
  return ctx.exit_code;
}
