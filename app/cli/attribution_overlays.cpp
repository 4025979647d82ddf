// Attribution overlays through the figures library: the GUI's attribution scene, rendered headless.
// Each sample becomes the scene's data through figures::attribution_image (the GUI's reduction).
#include <cstdio>
#include <functional>
#include <string>

#include "attribution_overlays.h"
#include "paramscope/error.h"
#include "paramscope/figures/attribution_data.h"
#include "paramscope/figures/attribution_scene.h"
#include "paramscope/shape.h"

namespace paramscope::cli {
namespace {

std::string title_of(const std::string& method, const xai::Attribution& a, std::size_t b) {
  std::string t = method;
  if (b < a.classes.size()) t += ", class " + std::to_string(a.classes[b]);
  if (b < a.score.size()) {
    char buf[48];
    std::snprintf(buf, sizeof buf, " (score %.3g)", a.score[b]);
    t += buf;
  }
  return t;
}

}  // namespace

std::vector<std::string> write_attribution_overlays(const Array& x_in, const xai::Attribution& a,
                                                    const std::string& method, const std::filesystem::path& stem,
                                                    const std::vector<int>& requested) {
  const Array x = x_in.cast(DType::F32);
  const Array m = a.map.cast(DType::F32);
  const std::vector<std::int64_t>& xs = x.shape();
  const std::vector<int> axes = xai::spatial_axes(xs, requested);
  if (axes.size() > 2) {
    static bool said = false;
    if (!said)
      std::fprintf(stderr,
                   "paramscope-cli: attribute: no PNG overlays of %zu-D inputs (only images and 1-D "
                   "features); the NPY and HDF5 files hold every map\n",
                   axes.size());
    said = true;
    return {};
  }
  const std::int64_t batch = xs[0];
  std::vector<std::string> files;
  for (std::int64_t b = 0; b < batch; ++b) {
    figures::AttributionImage image = figures::attribution_image(x, m, b, axes);
    figures::AttributionScene scene;
    scene.set_data(std::move(image.input), std::move(image.map), title_of(method, a, static_cast<std::size_t>(b)));
    const std::string name = stem.filename().string() + (batch == 1 ? std::string() : "_" + std::to_string(b)) + ".png";
    const std::filesystem::path file = stem.parent_path() / name;
    scene.save(file);
    files.push_back(file.string());
  }
  return files;
}

}  // namespace paramscope::cli
