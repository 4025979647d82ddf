// A small labelled matrix of values, each cell coloured and annotated (seaborn's annotated
// heatmap): the pairwise similarity of task vectors, conflict rates between models.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "paramscope/figures/colormap.h"
#include "paramscope/figures/scene.h"

namespace paramscope::figures {

struct MatrixData {
  std::vector<double> values;  ///< rows x cols, row-major; NaN: no value (grey, "n/a")
  std::vector<std::string> row_labels, col_labels;
  double lo = -1, hi = 1;      ///< the colour range; values outside take the end colours
  Colormap colormap = Colormap::RdBuR;
  std::string title, value_label;  ///< value_label names the colour bar ("cosine similarity")
  int decimals = 2;                ///< of the annotations
};

class MatrixChart final : public Scene {
public:
  MatrixChart();
  ~MatrixChart() override;

  /// throws Error(Usage) if values does not hold rows x cols entries (rows, cols = the label
  /// counts) or lo >= hi.
  void set_matrix(MatrixData data);
  /// Shows an empty frame with the title "no data".
  void clear();
  const MatrixData& data() const noexcept;

  /// The (row, column) of the cell under a display pixel (origin bottom left), if any.
  std::optional<std::pair<std::size_t, std::size_t>> cell_at(double x, double y) const;

protected:
  void on_scale(double scale) override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
