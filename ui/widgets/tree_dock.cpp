#include "tree_dock.h"

#include <utility>

#include <QHeaderView>
#include <QLineEdit>
#include <QTreeView>
#include <QVBoxLayout>

#include "checkpoint_filter_proxy.h"
#include "checkpoint_tree_model.h"

namespace paramscope::ui {

TreeDock::TreeDock(CheckpointTreeModel* model, QWidget* parent)
    : QDockWidget(tr("Tensors"), parent), model_(model), proxy_(new CheckpointFilterProxy(this)) {
  setObjectName(QStringLiteral("treeDock"));  // saveState() finds docks by name
  proxy_->setSourceModel(model_);

  auto* body = new QWidget(this);
  filter_ = new QLineEdit(body);
  filter_->setObjectName(QStringLiteral("filterEdit"));
  filter_->setPlaceholderText(tr("Filter tensors by name (* and ? match anything)"));
  filter_->setClearButtonEnabled(true);

  view_ = new QTreeView(body);
  view_->setObjectName(QStringLiteral("tensorTree"));
  view_->setModel(proxy_);
  view_->setUniformRowHeights(true);
  view_->setAlternatingRowColors(true);
  view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  // Unsorted (model order = hierarchy order) until the user clicks a header.
  view_->header()->setSortIndicator(-1, Qt::AscendingOrder);
  view_->setSortingEnabled(true);
  view_->header()->setSectionResizeMode(QHeaderView::Interactive);
  // Together they fit the dock's default width, so the Importance column is in view.
  for (auto [column, width] : {std::pair{CheckpointTreeModel::NameColumn, 190}, {CheckpointTreeModel::KindColumn, 58},
                               {CheckpointTreeModel::ShapeColumn, 72}, {CheckpointTreeModel::DTypeColumn, 45},
                               {CheckpointTreeModel::ParametersColumn, 70}, {CheckpointTreeModel::ImportanceColumn, 90}})
    view_->header()->resizeSection(column, width);

  auto* layout = new QVBoxLayout(body);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addWidget(filter_);
  layout->addWidget(view_);
  setWidget(body);

  connect(filter_, &QLineEdit::textChanged, this, &TreeDock::onFilterChanged);
  connect(view_->selectionModel(), &QItemSelectionModel::currentChanged, this, &TreeDock::onCurrentChanged);
  // Removing the current checkpoint moves the current item elsewhere (or nowhere).
  connect(proxy_, &QAbstractItemModel::rowsRemoved, this, &TreeDock::onCurrentChanged);
}

void TreeDock::showCheckpoint(int row) {
  const QModelIndex index = proxy_->mapFromSource(model_->checkpointIndex(row));
  if (!index.isValid()) return;  // hidden by the filter
  view_->expand(index);
  view_->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  view_->scrollTo(index);
}

int TreeDock::currentCheckpoint() const {
  return model_->checkpointRowOf(proxy_->mapToSource(view_->selectionModel()->currentIndex()));
}

bool TreeDock::showTensor(int row, const std::string& name) {
  const QModelIndex top = model_->checkpointIndex(row);
  for (int b = 0; b < model_->rowCount(top); ++b) {
    const QModelIndex block = model_->index(b, 0, top);
    for (int t = 0; t < model_->rowCount(block); ++t) {
      const QModelIndex source = model_->index(t, 0, block);
      const Tensor* tensor = model_->tensorAt(source);
      if (!tensor || tensor->name() != name) continue;
      const QModelIndex index = proxy_->mapFromSource(source);
      if (!index.isValid()) return false;
      view_->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
      view_->scrollTo(index);
      return true;
    }
  }
  return false;
}

void TreeDock::onCurrentChanged() {
  const QModelIndex source = proxy_->mapToSource(view_->selectionModel()->currentIndex());
  const Tensor* tensor = model_->tensorAt(source);
  const int row = currentCheckpoint();
  const Checkpoint* current = model_->checkpointAt(row).get();
  if (current != current_) {
    current_ = current;
    emit currentCheckpointChanged(row);
  }
  if (tensor != currentTensor_) {
    currentTensor_ = tensor;
    emit currentTensorChanged(tensor);
  }
}

void TreeDock::onFilterChanged(const QString& text) {
  proxy_->setNameFilter(text);
  // Matches are tensors: show them; without a filter, show checkpoints down to their blocks.
  if (text.trimmed().isEmpty())
    view_->expandToDepth(0);
  else
    view_->expandAll();
}

}  // namespace paramscope::ui
