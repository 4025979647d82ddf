#include "criterion_panel.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "paramscope/importance.h"

namespace paramscope::ui {
namespace {

const CriterionInfo* infoOf(const QString& name) {
  const Criterion* c = CriterionRegistry::builtin().find(name.toStdString());
  return c ? &c->info() : nullptr;
}

QWidget* withButton(QLineEdit* edit, QPushButton* button, QWidget* parent) {
  auto* w = new QWidget(parent);
  auto* l = new QHBoxLayout(w);
  l->setContentsMargins(0, 0, 0, 0);
  l->addWidget(edit);
  l->addWidget(button);
  return w;
}

}  // namespace

QString ComputeRequest::label() const { return QStringLiteral("%1 · %2 per %3").arg(criterion, reduction, granularity); }

CriterionPanel::CriterionPanel(QWidget* parent)
    : QDockWidget(tr("Importance"), parent),
      criterion_(new QComboBox(this)),
      formula_(new QLabel(this)),
      granularity_(new QComboBox(this)),
      reduction_(new QComboBox(this)),
      base_(new QLineEdit(this)),
      stats_(new QLineEdit(this)),
      baseBrowse_(new QPushButton(tr("Browse..."), this)),
      statsBrowse_(new QPushButton(tr("Browse..."), this)),
      compute_(new QPushButton(tr("Compute"), this)) {
  setObjectName(QStringLiteral("criterionPanel"));
  criterion_->setObjectName(QStringLiteral("criterion"));
  granularity_->setObjectName(QStringLiteral("granularity"));
  reduction_->setObjectName(QStringLiteral("reduction"));
  base_->setObjectName(QStringLiteral("baseCheckpoint"));
  stats_->setObjectName(QStringLiteral("statsFile"));
  compute_->setObjectName(QStringLiteral("compute"));
  formula_->setWordWrap(true);
  formula_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  for (const Criterion* c : CriterionRegistry::builtin().all()) {
    criterion_->addItem(QString::fromStdString(c->info().name));
    criterion_->setItemData(criterion_->count() - 1,
                            QString::fromStdString(c->info().formula + "\n" + c->info().source), Qt::ToolTipRole);
  }
  for (const char* g : {"neuron", "column", "head", "tensor", "block"}) granularity_->addItem(QString::fromLatin1(g));
  for (const char* r : {"l2", "sum", "mean", "max"}) reduction_->addItem(QString::fromLatin1(r));
  base_->setPlaceholderText(tr("base checkpoint (delta criteria)"));
  stats_->setPlaceholderText(tr("statistics .safetensors (docs/statistics.md)"));

  auto* body = new QWidget(this);
  auto* form = new QFormLayout;
  form->addRow(tr("Criterion"), criterion_);
  form->addRow(QString(), formula_);
  form->addRow(tr("Granularity"), granularity_);
  form->addRow(tr("Reduction"), reduction_);
  form->addRow(tr("Base"), withButton(base_, baseBrowse_, body));
  form->addRow(tr("Statistics"), withButton(stats_, statsBrowse_, body));
  auto* layout = new QVBoxLayout(body);
  layout->addLayout(form);
  layout->addWidget(compute_);
  layout->addStretch();
  setWidget(body);

  connect(criterion_, &QComboBox::currentIndexChanged, this, &CriterionPanel::criterionChanged);
  connect(baseBrowse_, &QPushButton::clicked, this, [this] { browse(base_, tr("Base Checkpoint")); });
  connect(statsBrowse_, &QPushButton::clicked, this, [this] { browse(stats_, tr("Statistics File")); });
  connect(compute_, &QPushButton::clicked, this, [this] { emit computeRequested(request()); });
  connect(criterion_, &QComboBox::currentIndexChanged, this, &CriterionPanel::requestChanged);
  connect(base_, &QLineEdit::editingFinished, this, &CriterionPanel::requestChanged);
  connect(stats_, &QLineEdit::editingFinished, this, &CriterionPanel::requestChanged);
  criterionChanged();
}

ComputeRequest CriterionPanel::request() const {
  const CriterionInfo* info = infoOf(criterion_->currentText());
  ComputeRequest r{criterion_->currentText(), granularity_->currentText(), reduction_->currentText(), {}, {}};
  if (info && info->needs_base) r.base = base_->text().trimmed();
  if (info && !info->needs_stats.empty()) r.stats = stats_->text().trimmed();
  return r;
}

void CriterionPanel::setRequest(const ComputeRequest& r) {
  auto pick = [](QComboBox* box, const QString& text) {
    if (const int i = box->findText(text); i >= 0) box->setCurrentIndex(i);
  };
  pick(criterion_, r.criterion);
  pick(granularity_, r.granularity);
  pick(reduction_, r.reduction);
  base_->setText(r.base);
  stats_->setText(r.stats);
}

void CriterionPanel::setCheckpointAvailable(bool available) {
  available_ = available;
  compute_->setEnabled(available_);
}

void CriterionPanel::criterionChanged() {
  const CriterionInfo* info = infoOf(criterion_->currentText());
  if (!info) return;
  formula_->setText(QString::fromStdString(info->formula));
  formula_->setToolTip(QString::fromStdString(info->source));
  const bool base = info->needs_base, stats = !info->needs_stats.empty();
  base_->setEnabled(base);
  baseBrowse_->setEnabled(base);
  stats_->setEnabled(stats);
  statsBrowse_->setEnabled(stats);
  // One value per matrix: only tensor and block make sense.
  for (int i = 0; i < granularity_->count(); ++i) {
    const QString g = granularity_->itemText(i);
    const bool ok = info->elementwise || g == QLatin1String("tensor") || g == QLatin1String("block");
    granularity_->setItemData(i, ok ? QVariant() : QVariant(0), Qt::UserRole - 1);  // 0: disabled item
  }
  if (!info->elementwise && granularity_->currentText() != QLatin1String("block"))
    granularity_->setCurrentIndex(granularity_->findText(QStringLiteral("tensor")));
  compute_->setEnabled(available_);
}

void CriterionPanel::browse(QLineEdit* edit, const QString& title) {
  const QString path = QFileDialog::getOpenFileName(
      this, title, edit->text(), tr("Checkpoints (*.safetensors *.json *.pt *.pth *.bin *.h5 *.onnx *.gguf);;All files (*)"));
  if (path.isEmpty()) return;
  edit->setText(path);
  emit requestChanged();
}

}  // namespace paramscope::ui
