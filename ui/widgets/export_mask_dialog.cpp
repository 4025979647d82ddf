#include "export_mask_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

#include "jobs_model.h"
#include "paramscope/error.h"

namespace paramscope::ui {
namespace {

constexpr const char* kTopKey = "exportMask/top";
constexpr const char* kScopeKey = "exportMask/scope";
constexpr const char* kDtypeKey = "exportMask/dtype";
constexpr const char* kDirKey = "exportMask/directory";

}  // namespace

ExportMaskDialog::ExportMaskDialog(JobsModel* jobs, CheckpointPtr checkpoint, const ComputeRequest& criterion,
                                   QWidget* parent)
    : QDialog(parent),
      jobs_(jobs),
      checkpoint_(std::move(checkpoint)),
      criterion_(criterion),
      top_(new QLineEdit(this)),
      scope_(new QComboBox(this)),
      dtype_(new QComboBox(this)),
      output_(new QLineEdit(this)),
      report_(new QPlainTextEdit(this)),
      export_(new QPushButton(tr("Export"), this)) {
  setObjectName(QStringLiteral("exportMaskDialog"));
  setWindowTitle(tr("Export Mask"));
  top_->setObjectName(QStringLiteral("maskTop"));
  scope_->setObjectName(QStringLiteral("maskScope"));
  dtype_->setObjectName(QStringLiteral("maskDtype"));
  output_->setObjectName(QStringLiteral("maskOutput"));
  report_->setObjectName(QStringLiteral("maskReport"));
  export_->setObjectName(QStringLiteral("maskExport"));

  QSettings s;
  top_->setText(s.value(kTopKey, QStringLiteral("10%")).toString());
  top_->setToolTip(tr("10% (a percentage), 0.1 (a fraction), 5000 (a count); for threshold, the threshold"));
  scope_->setEditable(true);  // any N:M
  scope_->addItems({QStringLiteral("global"), QStringLiteral("tensor"), QStringLiteral("row"), QStringLiteral("2:4"),
                    QStringLiteral("4:8"), QStringLiteral("threshold")});
  scope_->setCurrentText(s.value(kScopeKey, QStringLiteral("global")).toString());
  scope_->setToolTip(tr("global, tensor, row, N:M (keep N of every M along the input dimension), threshold"));
  dtype_->addItems({QStringLiteral("bool"), QStringLiteral("u8")});
  dtype_->setCurrentText(s.value(kDtypeKey, QStringLiteral("bool")).toString());
  const QString stem = checkpoint_ ? QFileInfo(QString::fromStdString(checkpoint_->path().string())).completeBaseName()
                                   : QStringLiteral("model");
  output_->setText(QDir(s.value(kDirKey, QDir::homePath()).toString())
                       .filePath(QStringLiteral("%1.%2.mask.safetensors").arg(stem, criterion_.criterion)));
  report_->setReadOnly(true);
  report_->setPlaceholderText(tr("The density of each tensor appears here once the mask is written."));
  report_->setMinimumHeight(140);

  auto* browse = new QPushButton(tr("Browse..."), this);
  auto* outputRow = new QHBoxLayout;
  outputRow->addWidget(output_, 1);
  outputRow->addWidget(browse);
  auto* form = new QFormLayout;
  auto* criterionLabel = new QLabel(criterion_.criterion + (criterion_.base.isEmpty() ? QString() : tr(", base %1").arg(criterion_.base)) +
                                        (criterion_.stats.isEmpty() ? QString() : tr(", statistics %1").arg(criterion_.stats)),
                                    this);
  criterionLabel->setToolTip(tr("Chosen in the Importance dock"));
  form->addRow(tr("Criterion"), criterionLabel);
  form->addRow(tr("Keep"), top_);
  form->addRow(tr("Scope"), scope_);
  form->addRow(tr("Data type"), dtype_);
  form->addRow(tr("Mask file"), outputRow);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  buttons->addButton(export_, QDialogButtonBox::AcceptRole);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(report_, 1);
  layout->addWidget(buttons);
  resize(560, 380);

  connect(browse, &QPushButton::clicked, this, &ExportMaskDialog::browse);
  connect(export_, &QPushButton::clicked, this, [this] { exportMask(); });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

MaskExportRequest ExportMaskDialog::request() const {
  MaskExportRequest r;
  r.criterion = criterion_;
  r.top = top_->text().trimmed();
  r.scope = scope_->currentText().trimmed();
  r.u8 = dtype_->currentText() == QLatin1String("u8");
  r.output = output_->text().trimmed();
  return r;
}

Job* ExportMaskDialog::exportMask() {
  const MaskExportRequest r = request();
  try {
    checkMaskRequest(r);
  } catch (const Error& e) {
    report_->setPlainText(QString::fromStdString(e.what()));
    return nullptr;
  }
  QSettings s;
  s.setValue(kTopKey, r.top);
  s.setValue(kScopeKey, r.scope);
  s.setValue(kDtypeKey, r.u8 ? QStringLiteral("u8") : QStringLiteral("bool"));
  s.setValue(kDirKey, QFileInfo(r.output).absolutePath());
  report_->setPlainText(tr("Writing %1...").arg(QDir::toNativeSeparators(r.output)));
  export_->setEnabled(false);
  QPointer<ExportMaskDialog> self(this);
  Job* job = jobs_->start(tr("mask %1 %2 → %3").arg(r.top, r.scope, QFileInfo(r.output).fileName()),
                          maskExportWork(checkpoint_, r, [self](std::shared_ptr<const MaskExportResult> result) {
                            if (!self) return;
                            self->report_->setPlainText(tr("Wrote %1\n").arg(QDir::toNativeSeparators(result->output)) +
                                                        densityReport(*result));
                            emit self->exported(densityReport(*result, false));
                          }));
  connect(job, &Job::finished, this, [this, job] {
    export_->setEnabled(true);
    if (job->state() == Job::State::Failed) report_->setPlainText(job->message());
    if (job->state() == Job::State::Cancelled) report_->setPlainText(tr("Cancelled: no file written."));
  });
  return job;
}

void ExportMaskDialog::browse() {
  const QString file = QFileDialog::getSaveFileName(this, tr("Mask File"), output_->text(),
                                                    tr("safetensors (*.safetensors)"));
  if (!file.isEmpty()) output_->setText(file);
}

}  // namespace paramscope::ui
