#include "export_maps_dialog.h"

#include <algorithm>

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

#include "jobs_model.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"

namespace paramscope::ui {
namespace {

constexpr const char* kDirKey = "exportMaps/directory";
constexpr const char* kFormatKey = "exportMaps/format";
constexpr const char* kSummaryKey = "exportMaps/summary";

QString withSuffix(const QString& path, const QString& suffix) {
  const QFileInfo f(path);
  QString stem = f.completeBaseName();
  if (stem.isEmpty()) stem = f.fileName();
  return f.dir().filePath(stem + suffix);
}

QWidget* row(QLineEdit* edit, QPushButton* button, QWidget* parent) {
  auto* w = new QWidget(parent);
  auto* l = new QHBoxLayout(w);
  l->setContentsMargins(0, 0, 0, 0);
  l->addWidget(edit, 1);
  l->addWidget(button);
  return w;
}

}  // namespace

ExportMapsDialog::ExportMapsDialog(JobsModel* jobs, CheckpointPtr checkpoint, const ComputeRequest& criterion,
                                   QWidget* parent)
    : QDialog(parent),
      jobs_(jobs),
      checkpoint_(std::move(checkpoint)),
      criterion_(criterion),
      level_(new QComboBox(this)),
      format_(new QComboBox(this)),
      output_(new QLineEdit(this)),
      summaryFormat_(new QComboBox(this)),
      summary_(new QLineEdit(this)),
      status_(new QLabel(this)),
      export_(new QPushButton(tr("Export"), this)) {
  setObjectName(QStringLiteral("exportMapsDialog"));
  setWindowTitle(tr("Export Importance Maps"));
  level_->setObjectName(QStringLiteral("mapsLevel"));
  format_->setObjectName(QStringLiteral("mapsFormat"));
  output_->setObjectName(QStringLiteral("mapsOutput"));
  summaryFormat_->setObjectName(QStringLiteral("mapsSummaryFormat"));
  summary_->setObjectName(QStringLiteral("mapsSummary"));
  status_->setObjectName(QStringLiteral("mapsStatus"));
  export_->setObjectName(QStringLiteral("mapsExport"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  const Criterion* c = CriterionRegistry::builtin().find(criterion_.criterion.toStdString());
  if (!c || c->info().elementwise) level_->addItem(tr("element (one score per weight)"), true);
  level_->addItem(tr("%1 per %2 (the Importance dock's)").arg(criterion_.reduction, criterion_.granularity), false);
  format_->addItems({QStringLiteral("HDF5 (.h5)"), QStringLiteral("NPY (folder of .npy)")});
  summaryFormat_->addItems({tr("none"), QStringLiteral("CSV"), QStringLiteral("JSON")});

  QSettings s;
  const QString stem = checkpoint_ ? QFileInfo(QString::fromStdString(checkpoint_->path().string())).completeBaseName()
                                   : QStringLiteral("model");
  const QDir dir(s.value(kDirKey, QDir::homePath()).toString());
  output_->setText(dir.filePath(QStringLiteral("%1.%2.h5").arg(stem, criterion_.criterion)));
  summary_->setText(dir.filePath(QStringLiteral("%1.%2.summary.csv").arg(stem, criterion_.criterion)));
  format_->setCurrentIndex(s.value(kFormatKey, 0).toInt() == 1 ? 1 : 0);
  summaryFormat_->setCurrentIndex(std::clamp(s.value(kSummaryKey, 1).toInt(), 0, 2));

  auto* browseOutput = new QPushButton(tr("Browse..."), this);
  auto* browseSummary = new QPushButton(tr("Browse..."), this);
  auto* form = new QFormLayout;
  form->addRow(tr("Criterion"), new QLabel(criterion_.criterion, this));
  form->addRow(tr("Maps"), level_);
  form->addRow(tr("Format"), format_);
  form->addRow(tr("Map file"), row(output_, browseOutput, this));
  form->addRow(tr("Summary"), summaryFormat_);
  form->addRow(tr("Summary file"), row(summary_, browseSummary, this));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  buttons->addButton(export_, QDialogButtonBox::AcceptRole);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(status_);
  layout->addStretch();
  layout->addWidget(buttons);
  resize(560, 300);

  connect(format_, &QComboBox::currentIndexChanged, this, &ExportMapsDialog::formatChanged);
  connect(summaryFormat_, &QComboBox::currentIndexChanged, this, &ExportMapsDialog::formatChanged);
  connect(browseOutput, &QPushButton::clicked, this, [this] {
    const QString f = format_->currentIndex() == 0
                          ? QFileDialog::getSaveFileName(this, tr("Map File"), output_->text(), tr("HDF5 (*.h5 *.hdf5)"))
                          : QFileDialog::getExistingDirectory(this, tr("Folder for .npy Maps"), output_->text());
    if (!f.isEmpty()) output_->setText(f);
  });
  connect(browseSummary, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Summary File"), summary_->text(), tr("CSV (*.csv);;JSON (*.json)"));
    if (!f.isEmpty()) summary_->setText(f);
  });
  connect(export_, &QPushButton::clicked, this, [this] { exportMaps(); });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  formatChanged();
}

void ExportMapsDialog::formatChanged() {
  // The file names follow the formats: .h5 or a folder, .csv or .json.
  output_->setText(format_->currentIndex() == 0 ? withSuffix(output_->text(), QStringLiteral(".h5"))
                                                : withSuffix(output_->text(), QStringLiteral(".maps")));
  summary_->setEnabled(summaryFormat_->currentIndex() > 0);
  if (summaryFormat_->currentIndex() > 0)
    summary_->setText(withSuffix(summary_->text(), summaryFormat_->currentIndex() == 1 ? QStringLiteral(".csv")
                                                                                      : QStringLiteral(".json")));
}

MapsExportRequest ExportMapsDialog::request() const {
  MapsExportRequest r;
  r.criterion = criterion_;
  r.element = level_->currentData().toBool();
  r.output = output_->text().trimmed();
  r.summary = summaryFormat_->currentIndex() > 0 ? summary_->text().trimmed() : QString();
  return r;
}

Job* ExportMapsDialog::exportMaps() {
  const MapsExportRequest r = request();
  try {
    checkMapsRequest(r);
  } catch (const Error& e) {
    status_->setText(QString::fromStdString(e.what()));
    return nullptr;
  }
  QSettings s;
  s.setValue(kDirKey, QFileInfo(r.output.isEmpty() ? r.summary : r.output).absolutePath());
  s.setValue(kFormatKey, format_->currentIndex());
  s.setValue(kSummaryKey, summaryFormat_->currentIndex());
  status_->setText(tr("Writing..."));
  export_->setEnabled(false);
  QPointer<ExportMapsDialog> self(this);
  Job* job = jobs_->start(tr("maps %1 → %2").arg(criterion_.criterion, QFileInfo(r.output).fileName()),
                          mapsExportWork(checkpoint_, r, [self](const QString& message) {
                            if (!self) return;
                            self->status_->setText(message);
                            emit self->exported(message);
                          }));
  connect(job, &Job::finished, this, [this, job] {
    export_->setEnabled(true);
    if (job->state() == Job::State::Failed) status_->setText(job->message());
    if (job->state() == Job::State::Cancelled) status_->setText(tr("Cancelled: no file written."));
  });
  return job;
}

}  // namespace paramscope::ui
