// The dock that lists the open checkpoints: a filter box over a sortable tree.
#pragma once

#include <string>

#include <QDockWidget>

class QLineEdit;
class QTreeView;

namespace paramscope {
class Checkpoint;
class Tensor;
}

namespace paramscope::ui {

class CheckpointFilterProxy;
class CheckpointTreeModel;

class TreeDock : public QDockWidget {
  Q_OBJECT

public:
  /// Shows model (not owned).
  explicit TreeDock(CheckpointTreeModel* model, QWidget* parent = nullptr);

  QTreeView* view() const noexcept { return view_; }
  QLineEdit* filterEdit() const noexcept { return filter_; }
  CheckpointFilterProxy* proxy() const noexcept { return proxy_; }

  /// Makes the checkpoint in source-model row the current item and expands it to its blocks.
  void showCheckpoint(int row);
  /// The source-model row of the checkpoint the current item belongs to; -1 if there is none.
  int currentCheckpoint() const;
  /// Makes the row of the named tensor of checkpoint `row` current (if the filter shows it).
  bool showTensor(int row, const std::string& name);

signals:
  /// The current item moved under another checkpoint (row in the source model; -1: none).
  void currentCheckpointChanged(int row);
  /// A tensor row became current (tensor is null when the current row is not a tensor's).
  void currentTensorChanged(const paramscope::Tensor* tensor);

private:
  void onCurrentChanged();
  void onFilterChanged(const QString& text);

  CheckpointTreeModel* model_;
  CheckpointFilterProxy* proxy_;
  QLineEdit* filter_;
  QTreeView* view_;
  const paramscope::Checkpoint* current_ = nullptr;
  const paramscope::Tensor* currentTensor_ = nullptr;  // identity: rows shift when one closes
};

}  // namespace paramscope::ui
