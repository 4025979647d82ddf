// Spectrum of a weight matrix on log-log axes (vtkChartXY), as WeightWatcher plots it: the
// empirical spectral density (a histogram over log-spaced bins) or the rank-ordered values, with
// a fitted power law (alpha, xmin) drawn as a line and its alpha in the legend and the title.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "paramscope/figures/scene.h"

namespace paramscope::figures {

class SpectrumChart final : public Scene {
public:
  enum class Mode {
    Density,     ///< x: value, y: density = bin count / (n * bin width), log-spaced bins
    RankOrdered  ///< x: rank 1..n (largest first), y: value
  };

  SpectrumChart();
  ~SpectrumChart() override;

  /// Shows values (eigenvalues or singular values; the caller says which in value_label). Only
  /// finite values > 0 can be placed on log axes: the others are left out (see shown_count()).
  /// Resets the fit and any zoom.
  void set_values(std::vector<double> values, const std::string& title, const std::string& value_label = "eigenvalue");
  /// The fitted power law p(x) ~ x^-alpha for x >= xmin (e.g. from the spectral metrics). In the
  /// density it is drawn as tail_fraction * (alpha - 1) / xmin * (x / xmin)^-alpha, tail_fraction
  /// being the share of values >= xmin, so that it lies on the histogram; in rank order as the
  /// values it predicts, xmin * (r / n_tail)^(-1 / (alpha - 1)) for ranks 1..n_tail.
  /// throws Error(Usage) unless alpha > 1 and xmin > 0 are finite.
  void set_fit(double alpha, double xmin);
  void clear_fit();
  void set_mode(Mode mode);
  Mode mode() const noexcept;
  /// Bins of the density (default 50). throws Error(Usage) outside 1..10000.
  void set_bins(int bins);
  /// Shows empty axes.
  void clear();

  /// Values placed on the axes (finite and > 0).
  std::size_t shown_count() const noexcept;
  /// The points drawn for the data in the current mode: (x, y) in data units.
  std::vector<std::pair<double, double>> points() const;

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
