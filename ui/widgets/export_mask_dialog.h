// File > Export Mask...: which weights to keep (top % or count; global, per tensor, per row, N:M
// or a threshold), BOOL or U8, and the .safetensors file. The mask is written by a job (progress
// and Cancel in the Jobs dock) through the core's write_mask; the dialog then lists the density
// of each tensor.
#pragma once

#include <QDialog>

#include "checkpoint_tree_model.h"
#include "export_work.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace paramscope::ui {

class JobsModel;

class ExportMaskDialog : public QDialog {
  Q_OBJECT

public:
  /// criterion: the Importance dock's request (criterion and its inputs).
  ExportMaskDialog(JobsModel* jobs, CheckpointPtr checkpoint, const ComputeRequest& criterion,
                   QWidget* parent = nullptr);

  /// What the fields ask for.
  MaskExportRequest request() const;
  /// Checks the request and starts the job (nullptr and the reason shown if the request is wrong).
  Job* exportMask();

signals:
  /// The mask was written: "top 10% global by magnitude: 170 of 1,700 kept (10.00 %)".
  void exported(const QString& summary);

private:
  void browse();

  JobsModel* jobs_;
  CheckpointPtr checkpoint_;
  ComputeRequest criterion_;
  QLineEdit* top_;
  QComboBox* scope_;
  QComboBox* dtype_;
  QLineEdit* output_;
  QPlainTextEdit* report_;
  QPushButton* export_;
};

}  // namespace paramscope::ui
