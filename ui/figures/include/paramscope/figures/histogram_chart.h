// Histogram of values or scores (vtkChartXY): bars over [lo, hi], optionally log counts, with a
// vertical line marking a threshold (the mask threshold).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "paramscope/figures/scene.h"

namespace paramscope::figures {

class HistogramChart final : public Scene {
public:
  HistogramChart();
  ~HistogramChart() override;

  /// Shows counts[i] as the bar over [lo + i w, lo + (i + 1) w), w = (hi - lo) / counts.size(),
  /// and resets any zoom. x_label names what was counted ("value", "|w| * |grad|").
  /// throws Error(Usage) unless lo < hi are finite and every count is finite and >= 0.
  void set_histogram(std::vector<double> counts, double lo, double hi, const std::string& title,
                     const std::string& x_label = "value");
  /// Log counts: bar heights are log10(count) over a logarithmic axis labelled 1, 10, 100, ...;
  /// empty bins draw nothing, a count of 1 a short bar (the axis starts at 0.5).
  void set_log_counts(bool log);
  bool log_counts() const noexcept;
  /// Marks x with a vertical line, named label in the legend ("threshold 0.0123, top 10 %").
  /// A threshold outside [lo, hi] widens the x axis to show it.
  /// throws Error(Usage) for a value that is not finite.
  void set_threshold(double x, const std::string& label);
  void clear_threshold();
  /// The marked threshold, if any.
  std::optional<double> threshold() const noexcept;
  /// Shows empty axes.
  void clear();

  std::size_t bin_count() const noexcept;
  /// The x axis range shown (after a reset): [lo, hi] widened to the threshold.
  std::pair<double, double> x_range() const noexcept;

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
