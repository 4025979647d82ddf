// Sorting and name filtering for the checkpoint tree.
#pragma once

#include <QSortFilterProxyModel>

namespace paramscope::ui {

class CheckpointFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT

public:
  explicit CheckpointFilterProxy(QObject* parent = nullptr);

  /// Keeps the tensors and blocks whose full name contains text (case-insensitive; '*' and '?'
  /// are wildcards), with the blocks and checkpoints above them. An empty text shows everything.
  void setNameFilter(const QString& text);

protected:
  /// Names compare naturally ("layers.2" before "layers.10"), numbers as numbers.
  bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;
};

/// Compares names the way people read them: runs of digits as numbers ("layers.2" < "layers.10"),
/// the rest case-insensitively. Negative, zero or positive like QString::compare.
int naturalCompare(QStringView a, QStringView b);

}  // namespace paramscope::ui
