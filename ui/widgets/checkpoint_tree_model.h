// The open checkpoints as a tree: checkpoint -> blocks (in hierarchy order) -> tensors.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <QAbstractItemModel>

#include "paramscope/checkpoint.h"

namespace paramscope::ui {

using CheckpointPtr = std::shared_ptr<const paramscope::Checkpoint>;

class CheckpointTreeModel : public QAbstractItemModel {
  Q_OBJECT

public:
  /// ImportanceColumn is empty until setImportance() gives a checkpoint its scores.
  enum Column : int { NameColumn, KindColumn, ShapeColumn, DTypeColumn, ParametersColumn, ImportanceColumn, ColumnCount };
  enum Role : int {
    SortRole = Qt::UserRole + 1,  ///< numbers as numbers (parameters, shape as element count)
    FilterRole,                   ///< the full tensor or block name the filter box matches
  };
  enum class Node { None, Checkpoint, Block, Tensor };

  explicit CheckpointTreeModel(QObject* parent = nullptr);
  ~CheckpointTreeModel() override;

  /// Appends a checkpoint as the last top-level row and returns that row.
  int addCheckpoint(CheckpointPtr checkpoint);
  void removeCheckpoint(int row);
  int checkpointCount() const noexcept { return static_cast<int>(entries_.size()); }
  CheckpointPtr checkpointAt(int row) const;
  QModelIndex checkpointIndex(int row) const;
  /// The top-level row that index lies under; -1 for an invalid index.
  int checkpointRowOf(const QModelIndex& index) const;
  Node node(const QModelIndex& index) const;
  /// Shows importance scores of a checkpoint's tensors and blocks (by name) in ImportanceColumn;
  /// label ("magnitude · l2 · neuron") shows on the checkpoint's row. Replaces earlier scores.
  void setImportance(int row, const QString& label, std::map<std::string, double> tensors,
                     std::map<std::string, double> blocks);
  /// The label of the scores shown for a checkpoint ("" if none).
  QString importanceLabel(int row) const;

  /// The tensor of a tensor row; nullptr for other rows.
  const paramscope::Tensor* tensorAt(const QModelIndex& index) const;

  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
  // An index's internal pointer is its parent node: nullptr for checkpoint rows, the Entry for
  // block rows, the BlockNode for tensor rows. Nodes live as long as their checkpoint's row.
  struct NodeBase {
    bool is_entry;
  };
  struct Entry;
  struct BlockNode : NodeBase {
    Entry* entry;
    int row;
  };
  struct Entry : NodeBase {
    CheckpointPtr checkpoint;
    std::vector<BlockNode> blocks;
    QString importance_label;
    std::map<std::string, double> tensor_scores, block_scores;
  };

  int rowOf(const Entry* entry) const;
  QVariant checkpointData(const Entry& e, int column, int role) const;
  QVariant blockData(const BlockNode& b, int column, int role) const;
  QVariant tensorData(const BlockNode& b, int row, int column, int role) const;

  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace paramscope::ui
