// Curves y(x), one per series, with a legend (vtkChartXY): the distribution of task-vector
// magnitudes per model, or any other family of curves over a common x axis.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "paramscope/figures/scene.h"

namespace paramscope::figures {

struct LineSeries {
  std::string name;  ///< shown in the legend; unique within a chart
  std::vector<double> x, y;
};

class LineChart final : public Scene {
public:
  LineChart();
  ~LineChart() override;

  /// Shows the series (palette::series colours in order) and resets any zoom.
  /// throws Error(Usage) when x and y of a series differ in length, two series share a name, or
  /// a value is not finite.
  void set_series(std::vector<LineSeries> series, const std::string& title, const std::string& x_label,
                  const std::string& y_label);
  void clear();
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
