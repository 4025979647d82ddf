// Interference figures in builds without the figures library (PARAMSCOPE_BUILD_GUI=OFF).
#include <cstdio>

#include "commands.h"

namespace paramscope::cli {

std::vector<std::filesystem::path> write_interference_figures(const InterferenceReport&, const ElementInterference*,
                                                              const std::filesystem::path&) {
  std::fprintf(stderr,
               "paramscope-cli: interfere: no figures in this build (PARAMSCOPE_BUILD_GUI=OFF); the CSV and JSON "
               "files hold every value\n");
  return {};
}

}  // namespace paramscope::cli
