// The jobs of the session as a table: title, progress, state (with the error in place).
#pragma once

#include <vector>

#include <QAbstractTableModel>

#include "job.h"

namespace paramscope::ui {

class JobsModel : public QAbstractTableModel {
  Q_OBJECT

public:
  enum Column : int { TitleColumn, ProgressColumn, StateColumn, ColumnCount };
  enum Role : int { FractionRole = Qt::UserRole + 1 };

  explicit JobsModel(QObject* parent = nullptr);

  /// Starts a job and shows it as the last row. The model owns it.
  Job* start(const QString& title, Job::Work work);
  Job* jobAt(int row) const;
  int runningCount() const;
  /// Removes the rows of jobs that have ended.
  void clearFinished();

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
  void changed(Job* job);
  std::vector<Job*> jobs_;
};

}  // namespace paramscope::ui
