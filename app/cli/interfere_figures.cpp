// Interference figures through the figures library: the same scenes as the GUI's Merge tab,
// rendered headless.
#include <string>

#include "commands.h"
#include "paramscope/figures/heatmap_scene.h"
#include "paramscope/figures/interference_figures.h"
#include "paramscope/interference.h"
#include "paramscope/pyramid.h"

namespace paramscope::cli {

std::vector<std::filesystem::path> write_interference_figures(const InterferenceReport& report,
                                                              const ElementInterference* elements,
                                                              const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> files = figures::write_interference_figures(report, dir);
  if (!elements) return files;
  const auto [rows, cols] = matrix_shape(elements->shape);
  for (auto kind : {figures::ElementMapKind::Disagree, figures::ElementMapKind::Contributors,
                    figures::ElementMapKind::MergedDelta}) {
    figures::HeatmapScene scene;
    const bool signed_map = kind == figures::ElementMapKind::MergedDelta;
    scene.set_colormap(signed_map ? figures::Colormap::RdBuR : figures::Colormap::Viridis);
    scene.set_reduction(signed_map ? PyramidReduction::MaxAbs : PyramidReduction::Mean);
    scene.set_matrix(figures::element_map_values(*elements, kind), rows, cols,
                     std::string(figures::element_map_title(kind)) + ": " + elements->tensor);
    std::string name(figures::element_map_title(kind));
    for (char& c : name)
      if (c == ' ') c = '_';
    const std::filesystem::path file = dir / ("element_" + name + ".png");
    scene.save(file);
    files.push_back(file);
  }
  return files;
}

}  // namespace paramscope::cli
