// `render` in builds without the figures library (PARAMSCOPE_BUILD_GUI=OFF).
#include "commands.h"
#include "paramscope/error.h"

namespace paramscope::cli {

void add_render_command(CLI::App& app, Context&) {
  auto* cmd = app.add_subcommand("render", "Draw a figure (not in this build: configure with PARAMSCOPE_BUILD_GUI=ON)");
  cmd->allow_extras();
  cmd->callback([] {
    throw unsupported("render", "this paramscope-cli was built without figures (PARAMSCOPE_BUILD_GUI=OFF)");
  });
}

}  // namespace paramscope::cli
