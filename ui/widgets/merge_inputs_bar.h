// The merge dashboard's first row: which open checkpoint is the base, which are the fine-tunes,
// the top-k fraction of the overlap metrics, and Analyze.
#pragma once

#include <vector>

#include <QWidget>

#include "checkpoint_tree_model.h"

class QComboBox;
class QDoubleSpinBox;
class QMenu;
class QPushButton;
class QToolButton;

namespace paramscope::ui {

class MergeInputsBar : public QWidget {
  Q_OBJECT

public:
  explicit MergeInputsBar(CheckpointTreeModel* model, QWidget* parent = nullptr);

  CheckpointPtr base() const;
  std::vector<CheckpointPtr> fineTunes() const;
  double topFraction() const;
  /// Chooses by row of the model: base and fine-tunes (others unchecked); fineTunes() then lists
  /// them in this order.
  void select(int baseRow, const std::vector<int>& fineTuneRows);
  QPushButton* analyzeButton() const noexcept { return analyze_; }

signals:
  void analyzeRequested();

private:
  void refresh();
  void updateState();

  CheckpointTreeModel* model_;
  QComboBox* base_;
  QToolButton* fineTunes_;
  QMenu* menu_;
  QDoubleSpinBox* top_;
  QPushButton* analyze_;
  std::vector<CheckpointPtr> checkpoints_;  // as listed, in model order
  std::vector<bool> checked_;
  std::vector<CheckpointPtr> order_;  // the order select() gave
};

}  // namespace paramscope::ui
