// File > Export Importance Maps...: the Importance dock's criterion written as element maps or at
// its granularity and reduction, as HDF5 or NPY, with a CSV or JSON summary per tensor and block,
// by a job through the same core writers as `paramscope-cli importance`.
#pragma once

#include <QDialog>

#include "checkpoint_tree_model.h"
#include "export_work.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace paramscope::ui {

class JobsModel;

class ExportMapsDialog : public QDialog {
  Q_OBJECT

public:
  ExportMapsDialog(JobsModel* jobs, CheckpointPtr checkpoint, const ComputeRequest& criterion,
                   QWidget* parent = nullptr);

  MapsExportRequest request() const;
  /// Checks the request and starts the job (nullptr and the reason shown if the request is wrong).
  Job* exportMaps();

signals:
  void exported(const QString& message);

private:
  void formatChanged();

  JobsModel* jobs_;
  CheckpointPtr checkpoint_;
  ComputeRequest criterion_;
  QComboBox* level_;   // element, or the request's granularity
  QComboBox* format_;  // HDF5, NPY
  QLineEdit* output_;
  QComboBox* summaryFormat_;  // none, CSV, JSON
  QLineEdit* summary_;
  QLabel* status_;
  QPushButton* export_;
};

}  // namespace paramscope::ui
