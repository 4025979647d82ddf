#include "jobs_model.h"

#include <algorithm>

#include <QBrush>
#include <QColor>

namespace paramscope::ui {

JobsModel::JobsModel(QObject* parent) : QAbstractTableModel(parent) {}

Job* JobsModel::start(const QString& title, Job::Work work) {
  const int row = static_cast<int>(jobs_.size());
  beginInsertRows({}, row, row);
  auto* job = new Job(title, std::move(work), this);
  jobs_.push_back(job);
  endInsertRows();
  connect(job, &Job::progressChanged, this, [this, job] { changed(job); });
  connect(job, &Job::finished, this, [this, job] { changed(job); });
  return job;
}

Job* JobsModel::jobAt(int row) const {
  return row >= 0 && row < static_cast<int>(jobs_.size()) ? jobs_[static_cast<std::size_t>(row)] : nullptr;
}

int JobsModel::runningCount() const {
  return static_cast<int>(std::count_if(jobs_.begin(), jobs_.end(), [](const Job* j) { return j->running(); }));
}

void JobsModel::clearFinished() {
  for (int row = static_cast<int>(jobs_.size()) - 1; row >= 0; --row) {
    Job* job = jobs_[static_cast<std::size_t>(row)];
    if (job->running()) continue;
    beginRemoveRows({}, row, row);
    jobs_.erase(jobs_.begin() + row);
    endRemoveRows();
    job->deleteLater();
  }
}

void JobsModel::changed(Job* job) {
  const auto it = std::find(jobs_.begin(), jobs_.end(), job);
  if (it == jobs_.end()) return;
  const int row = static_cast<int>(it - jobs_.begin());
  emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

int JobsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(jobs_.size());
}

int JobsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant JobsModel::data(const QModelIndex& index, int role) const {
  const Job* job = index.isValid() ? jobAt(index.row()) : nullptr;
  if (!job || index.column() >= ColumnCount) return {};
  if (role == FractionRole) return job->fraction();
  switch (index.column()) {
    case TitleColumn:
      if (role == Qt::DisplayRole || role == Qt::ToolTipRole) return job->title();
      break;
    case ProgressColumn:
      if (role == Qt::DisplayRole) return QStringLiteral("%1 %").arg(job->fraction() * 100, 0, 'f', 0);
      break;
    case StateColumn:
      if (role == Qt::DisplayRole)
        return job->state() == Job::State::Failed ? tr("failed: %1").arg(job->message())
                                                  : tr(stateName(job->state()));
      if (role == Qt::ToolTipRole && !job->message().isEmpty()) return job->message();
      if (role == Qt::ForegroundRole && job->state() == Job::State::Failed) return QBrush(QColor(176, 32, 32));
      break;
    default:
      break;
  }
  return {};
}

QVariant JobsModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case TitleColumn:
      return tr("Job");
    case ProgressColumn:
      return tr("Progress");
    case StateColumn:
      return tr("State");
    default:
      return {};
  }
}

}  // namespace paramscope::ui
