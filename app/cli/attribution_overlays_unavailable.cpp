// Attribution overlays in builds without the figures library (PARAMSCOPE_BUILD_GUI=OFF).
#include <cstdio>

#include "attribution_overlays.h"

namespace paramscope::cli {

std::vector<std::string> write_attribution_overlays(const Array&, const xai::Attribution&, const std::string&,
                                                    const std::filesystem::path&, const std::vector<int>&) {
  static bool said = false;
  if (!said)
    std::fprintf(stderr,
                 "paramscope-cli: attribute: no PNG overlays in this build (PARAMSCOPE_BUILD_GUI=OFF); the NPY and "
                 "HDF5 files hold every map\n");
  said = true;
  return {};
}

}  // namespace paramscope::cli
