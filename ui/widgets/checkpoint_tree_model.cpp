#include "checkpoint_tree_model.h"

#include <algorithm>
#include <limits>

#include <QFileInfo>
#include <QString>

#include "number_format.h"

namespace paramscope::ui {
namespace {

QString qstr(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

QString blockName(const Block& b) { return b.name.empty() ? QStringLiteral("(outside blocks)") : qstr(b.name); }

// A tensor's name below its block: "self_attn.q_proj.weight" under "model.layers.0".
QString relativeName(const std::string& tensor, const std::string& block) {
  if (!block.empty() && tensor.size() > block.size() && tensor.compare(0, block.size(), block) == 0 &&
      (tensor[block.size()] == '.' || tensor[block.size()] == '/'))
    return qstr(std::string_view(tensor).substr(block.size() + 1));
  return qstr(tensor);
}

QVariant scoreOf(const std::map<std::string, double>& scores, const std::string& name, bool sort) {
  const auto it = scores.find(name);
  if (it == scores.end()) return sort ? QVariant(-std::numeric_limits<double>::infinity()) : QVariant();
  return sort ? QVariant(it->second) : QVariant(QString::number(it->second, 'g', 4));
}

QString checkpointName(const Checkpoint& c) {
  const QString path = QString::fromStdString(c.path().string());
  const QString name = QFileInfo(path).fileName();
  return name.isEmpty() ? QFileInfo(QFileInfo(path).path()).fileName() : name;  // "dir/"
}

}  // namespace

CheckpointTreeModel::CheckpointTreeModel(QObject* parent) : QAbstractItemModel(parent) {}
CheckpointTreeModel::~CheckpointTreeModel() = default;

int CheckpointTreeModel::addCheckpoint(CheckpointPtr checkpoint) {
  if (!checkpoint) return -1;
  auto entry = std::make_unique<Entry>();
  entry->is_entry = true;
  entry->checkpoint = std::move(checkpoint);
  const auto& blocks = entry->checkpoint->hierarchy().blocks();
  entry->blocks.reserve(blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i)
    entry->blocks.push_back(BlockNode{{false}, entry.get(), static_cast<int>(i)});
  const int row = checkpointCount();
  beginInsertRows({}, row, row);
  entries_.push_back(std::move(entry));
  endInsertRows();
  return row;
}

void CheckpointTreeModel::removeCheckpoint(int row) {
  if (row < 0 || row >= checkpointCount()) return;
  beginRemoveRows({}, row, row);
  entries_.erase(entries_.begin() + row);
  endRemoveRows();
}

void CheckpointTreeModel::setImportance(int row, const QString& label, std::map<std::string, double> tensors,
                                        std::map<std::string, double> blocks) {
  if (row < 0 || row >= checkpointCount()) return;
  Entry& e = *entries_[static_cast<std::size_t>(row)];
  e.importance_label = label;
  e.tensor_scores = std::move(tensors);
  e.block_scores = std::move(blocks);
  const QModelIndex top = index(row, ImportanceColumn);
  emit dataChanged(top, top);
  for (int b = 0; b < rowCount(top.siblingAtColumn(0)); ++b) {
    const QModelIndex block = index(b, 0, top.siblingAtColumn(0));
    emit dataChanged(block.siblingAtColumn(ImportanceColumn), block.siblingAtColumn(ImportanceColumn));
    const int n = rowCount(block);
    if (n > 0) emit dataChanged(index(0, ImportanceColumn, block), index(n - 1, ImportanceColumn, block));
  }
}

QString CheckpointTreeModel::importanceLabel(int row) const {
  return row >= 0 && row < checkpointCount() ? entries_[static_cast<std::size_t>(row)]->importance_label : QString();
}

CheckpointPtr CheckpointTreeModel::checkpointAt(int row) const {
  if (row < 0 || row >= checkpointCount()) return nullptr;
  return entries_[static_cast<std::size_t>(row)]->checkpoint;
}

QModelIndex CheckpointTreeModel::checkpointIndex(int row) const { return index(row, 0); }

int CheckpointTreeModel::rowOf(const Entry* entry) const {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.get() == entry; });
  return it == entries_.end() ? -1 : static_cast<int>(it - entries_.begin());
}

int CheckpointTreeModel::checkpointRowOf(const QModelIndex& index) const {
  if (!index.isValid() || index.model() != this) return -1;
  const auto* parent = static_cast<const NodeBase*>(index.internalPointer());
  if (!parent) return index.row();
  const Entry* entry = parent->is_entry ? static_cast<const Entry*>(parent) : static_cast<const BlockNode*>(parent)->entry;
  return rowOf(entry);
}

CheckpointTreeModel::Node CheckpointTreeModel::node(const QModelIndex& index) const {
  if (!index.isValid() || index.model() != this) return Node::None;
  const auto* parent = static_cast<const NodeBase*>(index.internalPointer());
  if (!parent) return Node::Checkpoint;
  return parent->is_entry ? Node::Block : Node::Tensor;
}

const Tensor* CheckpointTreeModel::tensorAt(const QModelIndex& index) const {
  if (node(index) != Node::Tensor) return nullptr;
  const auto* b = static_cast<const BlockNode*>(index.internalPointer());
  const auto& c = *b->entry->checkpoint;
  const auto& block = c.hierarchy().blocks()[static_cast<std::size_t>(b->row)];
  return &c.tensors()[block.tensors[static_cast<std::size_t>(index.row())]];
}

QModelIndex CheckpointTreeModel::index(int row, int column, const QModelIndex& parent) const {
  if (!hasIndex(row, column, parent)) return {};
  switch (node(parent)) {
    case Node::None: return createIndex(row, column, nullptr);
    case Node::Checkpoint: return createIndex(row, column, entries_[static_cast<std::size_t>(parent.row())].get());
    case Node::Block: {
      auto* entry = static_cast<Entry*>(parent.internalPointer());
      return createIndex(row, column, &entry->blocks[static_cast<std::size_t>(parent.row())]);
    }
    case Node::Tensor: break;
  }
  return {};
}

QModelIndex CheckpointTreeModel::parent(const QModelIndex& child) const {
  switch (node(child)) {
    case Node::Block: {
      const auto* entry = static_cast<const Entry*>(child.internalPointer());
      return createIndex(rowOf(entry), 0, nullptr);
    }
    case Node::Tensor: {
      auto* b = static_cast<BlockNode*>(child.internalPointer());
      return createIndex(b->row, 0, b->entry);
    }
    case Node::None:
    case Node::Checkpoint: break;
  }
  return {};
}

int CheckpointTreeModel::rowCount(const QModelIndex& parent) const {
  if (parent.column() > 0) return 0;
  switch (node(parent)) {
    case Node::None: return checkpointCount();
    case Node::Checkpoint: return static_cast<int>(entries_[static_cast<std::size_t>(parent.row())]->blocks.size());
    case Node::Block: {
      const auto* entry = static_cast<const Entry*>(parent.internalPointer());
      const auto& block = entry->checkpoint->hierarchy().blocks()[static_cast<std::size_t>(parent.row())];
      return static_cast<int>(block.tensors.size());
    }
    case Node::Tensor: break;
  }
  return 0;
}

int CheckpointTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QVariant CheckpointTreeModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  if (role == Qt::TextAlignmentRole)
    return index.column() == ParametersColumn || index.column() == ImportanceColumn
               ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
               : QVariant();
  switch (node(index)) {
    case Node::Checkpoint: return checkpointData(*entries_[static_cast<std::size_t>(index.row())], index.column(), role);
    case Node::Block: {
      const auto* entry = static_cast<const Entry*>(index.internalPointer());
      return blockData(entry->blocks[static_cast<std::size_t>(index.row())], index.column(), role);
    }
    case Node::Tensor:
      return tensorData(*static_cast<const BlockNode*>(index.internalPointer()), index.row(), index.column(), role);
    case Node::None: break;
  }
  return {};
}

QVariant CheckpointTreeModel::checkpointData(const Entry& e, int column, int role) const {
  const Checkpoint& c = *e.checkpoint;
  if (role == Qt::ToolTipRole) return QString::fromStdString(c.path().string());
  if (role == FilterRole) return QString();  // checkpoints show when something inside matches
  const bool sort = role == SortRole;
  if (role != Qt::DisplayRole && !sort) return {};
  switch (column) {
    case NameColumn: return checkpointName(c);
    case KindColumn: return QString::fromStdString(c.format());
    case ParametersColumn:
      return sort ? QVariant(static_cast<qulonglong>(c.parameter_count())) : QVariant(formatCount(c.parameter_count()));
    case ImportanceColumn: return e.importance_label;
    default: return sort ? QVariant(QString()) : QVariant();
  }
}

QVariant CheckpointTreeModel::blockData(const BlockNode& b, int column, int role) const {
  const Block& block = b.entry->checkpoint->hierarchy().blocks()[static_cast<std::size_t>(b.row)];
  if (role == FilterRole) return qstr(block.name);
  if (role == Qt::ToolTipRole)
    return QStringLiteral("%1: %2 %3")
        .arg(blockName(block), formatCount(block.tensors.size()), block.tensors.size() == 1 ? tr("tensor") : tr("tensors"));
  const bool sort = role == SortRole;
  if (role != Qt::DisplayRole && !sort) return {};
  switch (column) {
    case NameColumn: return blockName(block);
    case ParametersColumn:
      return sort ? QVariant(static_cast<qulonglong>(block.parameters)) : QVariant(formatCount(block.parameters));
    case ImportanceColumn: return scoreOf(b.entry->block_scores, block.name, sort);
    default: return sort ? QVariant(QString()) : QVariant();
  }
}

QVariant CheckpointTreeModel::tensorData(const BlockNode& b, int row, int column, int role) const {
  const Checkpoint& c = *b.entry->checkpoint;
  const Block& block = c.hierarchy().blocks()[static_cast<std::size_t>(b.row)];
  const std::size_t t = block.tensors[static_cast<std::size_t>(row)];
  const Tensor& tensor = c.tensors()[t];
  if (role == FilterRole || role == Qt::ToolTipRole) return QString::fromStdString(tensor.name());
  const bool sort = role == SortRole;
  if (role != Qt::DisplayRole && !sort) return {};
  const auto numel = static_cast<qulonglong>(tensor.numel());
  switch (column) {
    case NameColumn: return relativeName(tensor.name(), block.name);
    case KindColumn: return qstr(module_kind_name(c.hierarchy().place(t).kind));
    case ShapeColumn: return sort ? QVariant(numel) : QVariant(QString::fromStdString(shape_string(tensor.shape())));
    case DTypeColumn: return qstr(dtype_name(tensor.dtype()));
    case ParametersColumn: return sort ? QVariant(numel) : QVariant(formatCount(numel));
    case ImportanceColumn: return scoreOf(b.entry->tensor_scores, tensor.name(), sort);
    default: return {};
  }
}

QVariant CheckpointTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case NameColumn: return tr("Name");
    case KindColumn: return tr("Kind");
    case ShapeColumn: return tr("Shape");
    case DTypeColumn: return tr("DType");
    case ParametersColumn: return tr("Parameters");
    case ImportanceColumn: return tr("Importance");
    default: return {};
  }
}

}  // namespace paramscope::ui
