// Depth profile (vtkChartXY): a score per block (x = block index) and module kind (one series
// each: q k v o gate up down ...), as grouped bars or lines; a click on a bar or point reports
// (block, series) so that the GUI can select the tensor.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "paramscope/figures/scene.h"

namespace paramscope::figures {

struct ProfileSeries {
  std::string name;            ///< the module kind, shown in the legend ("q_proj", "up")
  std::vector<double> values;  ///< one per block; NaN where the block has no such module
};

class ProfileChart final : public Scene {
public:
  enum class Style { Bars, Lines };
  using ClickHandler = std::function<void(int block, int series)>;

  ProfileChart();
  ~ProfileChart() override;

  /// Shows series over blocks (block_labels name the x ticks) and resets any zoom. Series take
  /// palette::series colours in order (cycling after 8).
  /// throws Error(Usage) when a series does not hold one value per block, two series share a
  /// name, or a value is infinite.
  void set_profile(std::vector<std::string> block_labels, std::vector<ProfileSeries> series,
                   const std::string& title, const std::string& score_label = "score");
  void set_style(Style style);
  Style style() const noexcept;
  /// Shows empty axes.
  void clear();

  /// Called on a left click (press and release without a drag) on a bar or a point, with the
  /// block index and the series index of set_profile(). Clicks elsewhere call nothing.
  void on_click(ClickHandler handler);

  std::size_t block_count() const noexcept;
  std::size_t series_count() const noexcept;

protected:
  void on_attach(vtkRenderWindow* window) override;
  void on_detach(vtkRenderWindow* window) override;
  void on_scale(double scale) override;

private:
  void rebuild();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
