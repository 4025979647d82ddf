#include "attribution_inputs_bar.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

namespace paramscope::ui {
namespace {

constexpr const char* kDirKey = "attributions/lastDirectory";

QString startDir() {
  return QSettings().value(kDirKey).toString();
}

}  // namespace

AttributionInputsBar::AttributionInputsBar(QWidget* parent)
    : QWidget(parent),
      model_(new QPushButton(tr("Model..."), this)),
      inputs_(new QPushButton(tr("Inputs..."), this)),
      sample_(new QComboBox(this)),
      class_(new QComboBox(this)),
      masks_(new QSpinBox(this)),
      cells_(new QSpinBox(this)),
      p_(new QDoubleSpinBox(this)),
      baseline_(new QComboBox(this)),
      steps_(new QSpinBox(this)),
      compute_(new QPushButton(tr("Compute"), this)),
      stop_(new QPushButton(tr("Stop"), this)) {
  model_->setObjectName(QStringLiteral("attrModel"));
  model_->setToolTip(tr("The ONNX classifier to explain"));
  inputs_->setObjectName(QStringLiteral("attrInputs"));
  inputs_->setToolTip(tr("Inputs for it: PNG/JPEG images, NPY or NPZ arrays (a batch or one sample)"));
  sample_->setObjectName(QStringLiteral("attrSample"));
  sample_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  class_->setObjectName(QStringLiteral("attrClass"));
  class_->setToolTip(tr("The class explained: the model's top five predictions on the sample"));
  class_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  class_->setMinimumContentsLength(11);
  for (int i = 0; i < kAttributionMethodCount; ++i) {
    const auto m = static_cast<AttributionMethod>(i);
    // Short labels keep the row narrow; the tooltip names the method in full.
    static const char* const shortNames[] = {"RISE", "DeepLIFT", "DeepLIFT-SHAP", "IG", "Grad\u00d7Input", "SmoothGrad"};
    auto* box = new QCheckBox(QString::fromUtf8(shortNames[i]), this);
    box->setToolTip(attributionMethodTitle(m));
    box->setObjectName(QStringLiteral("attrMethod-%1").arg(QLatin1String(attributionMethodKey(m))));
    box->setChecked(m != AttributionMethod::DeepLiftShap && m != AttributionMethod::SmoothGrad);
    methods_[static_cast<std::size_t>(i)] = box;
  }
  methods_[static_cast<std::size_t>(AttributionMethod::DeepLiftShap)]->setToolTip(
      tr("DeepLIFT averaged over the other samples of the inputs as references"));
  masks_->setObjectName(QStringLiteral("attrMasks"));
  masks_->setRange(16, 1000000);
  masks_->setSingleStep(500);
  masks_->setValue(4000);
  masks_->setToolTip(tr("RISE: number of random masks (the map refines as they are used; Stop keeps it)"));
  cells_->setObjectName(QStringLiteral("attrCells"));
  cells_->setRange(1, 64);
  cells_->setValue(7);
  cells_->setToolTip(tr("RISE: grid cells per axis"));
  p_->setObjectName(QStringLiteral("attrP"));
  p_->setRange(0.01, 1);
  p_->setSingleStep(0.05);
  p_->setValue(0.5);
  p_->setToolTip(tr("RISE: probability that a cell is kept"));
  baseline_->setObjectName(QStringLiteral("attrBaseline"));
  baseline_->addItem(tr("zeros"));
  baseline_->addItem(tr("blur"));
  baseline_->setToolTip(tr("DeepLIFT and Integrated Gradients: the reference input"));
  steps_->setObjectName(QStringLiteral("attrSteps"));
  steps_->setRange(1, 1000);
  steps_->setValue(50);
  steps_->setToolTip(tr("Integrated Gradients: integration steps"));
  compute_->setObjectName(QStringLiteral("attrCompute"));
  stop_->setObjectName(QStringLiteral("attrStop"));
  stop_->setToolTip(tr("Stop: RISE keeps the map of the masks used so far; the other methods are cancelled"));

  auto* files = new QHBoxLayout;
  files->setContentsMargins(6, 4, 6, 0);
  files->addWidget(model_);
  files->addWidget(inputs_);
  files->addWidget(new QLabel(tr("Sample:"), this));
  files->addWidget(sample_);
  files->addWidget(new QLabel(tr("Class:"), this));
  files->addWidget(class_);
  files->addWidget(compute_);
  files->addWidget(stop_);
  files->addStretch(1);
  auto* methods = new QHBoxLayout;
  methods->setContentsMargins(6, 0, 6, 0);
  for (auto* box : methods_) methods->addWidget(box);
  methods->addSpacing(12);
  methods->addWidget(new QLabel(tr("Masks:"), this));
  methods->addWidget(masks_);
  methods->addWidget(new QLabel(tr("Cells:"), this));
  methods->addWidget(cells_);
  methods->addWidget(new QLabel(tr("p:"), this));
  methods->addWidget(p_);
  methods->addWidget(new QLabel(tr("Baseline:"), this));
  methods->addWidget(baseline_);
  methods->addWidget(new QLabel(tr("IG steps:"), this));
  methods->addWidget(steps_);
  methods->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(2);
  layout->addLayout(files);
  layout->addLayout(methods);

  // The dialogs only pick paths; the dashboard's job reads the files.
  connect(model_, &QPushButton::clicked, this, [this] {
    const QString file = QFileDialog::getOpenFileName(this, tr("Open ONNX Model"), startDir(),
                                                      tr("ONNX models (*.onnx);;All files (*)"));
    if (file.isEmpty()) return;
    QSettings().setValue(kDirKey, QFileInfo(file).absolutePath());
    emit modelChosen(file);
  });
  connect(inputs_, &QPushButton::clicked, this, [this] {
    const QStringList chosen = QFileDialog::getOpenFileNames(
        this, tr("Open Inputs"), startDir(), tr("Inputs (*.png *.jpg *.jpeg *.npy *.npz);;All files (*)"));
    if (chosen.isEmpty()) return;
    QSettings().setValue(kDirKey, QFileInfo(chosen.front()).absolutePath());
    emit inputsChosen(chosen);
  });
  connect(sample_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i >= 0) emit sampleChanged(i);
  });
  connect(compute_, &QPushButton::clicked, this, &AttributionInputsBar::computeRequested);
  connect(stop_, &QPushButton::clicked, this, &AttributionInputsBar::stopRequested);
  connect(class_, &QComboBox::currentIndexChanged, this, &AttributionInputsBar::updateState);
  for (auto* box : methods_) connect(box, &QCheckBox::toggled, this, &AttributionInputsBar::updateState);
  setFiles({}, {});
}

void AttributionInputsBar::setFiles(const QString& model, const QStringList& inputs) {
  model_->setText(model.isEmpty() ? tr("Model...") : QFileInfo(model).fileName());
  model_->setToolTip(model.isEmpty() ? tr("The ONNX classifier to explain") : model);
  QStringList names;
  for (const QString& f : inputs) names << QFileInfo(f).fileName();
  inputs_->setText(inputs.isEmpty() ? tr("Inputs...") : names.join(QStringLiteral(", ")));
  inputs_->setToolTip(inputs.isEmpty() ? tr("Inputs: PNG/JPEG images, NPY or NPZ arrays")
                                       : inputs.join(QLatin1Char('\n')));
}

void AttributionInputsBar::setSamples(const QStringList& labels) {
  {
    const QSignalBlocker block(sample_);
    sample_->clear();
    sample_->addItems(labels);
    sample_->setCurrentIndex(labels.isEmpty() ? -1 : 0);
  }
  class_->clear();
  updateState();
}

int AttributionInputsBar::sample() const {
  return sample_->currentIndex();
}

void AttributionInputsBar::setPredictions(const std::vector<Prediction>& predictions) {
  const QSignalBlocker block(class_);
  class_->clear();
  for (const Prediction& p : predictions)
    class_->addItem(QStringLiteral("%1 (p=%2)").arg(p.cls).arg(p.probability, 0, 'f', 3),
                    QVariant::fromValue<qlonglong>(p.cls));
  class_->setCurrentIndex(predictions.empty() ? -1 : 0);
  updateState();
}

std::int64_t AttributionInputsBar::classIndex() const {
  return class_->currentIndex() < 0 ? -1 : class_->currentData().toLongLong();
}

std::vector<AttributionMethod> AttributionInputsBar::methods() const {
  std::vector<AttributionMethod> out;
  for (int i = 0; i < kAttributionMethodCount; ++i)
    if (methods_[static_cast<std::size_t>(i)]->isChecked()) out.push_back(static_cast<AttributionMethod>(i));
  return out;
}

void AttributionInputsBar::setMethods(const std::vector<AttributionMethod>& methods) {
  for (int i = 0; i < kAttributionMethodCount; ++i)
    methods_[static_cast<std::size_t>(i)]->setChecked(
        std::find(methods.begin(), methods.end(), static_cast<AttributionMethod>(i)) != methods.end());
}

AttributionSettings AttributionInputsBar::settings() const {
  AttributionSettings s;
  s.rise.masks = masks_->value();
  s.rise.cells = cells_->value();
  s.rise.p = p_->value();
  s.blurBaseline = baseline_->currentIndex() == 1;
  s.igSteps = steps_->value();
  return s;
}

void AttributionInputsBar::setRunning(bool running) {
  running_ = running;
  updateState();
}

void AttributionInputsBar::updateState() {
  compute_->setEnabled(!running_ && classIndex() >= 0 && !methods().empty());
  compute_->setToolTip(classIndex() >= 0 ? tr("Compute the checked methods' maps and curves on the worker pool")
                                         : tr("Open a model and inputs first"));
  stop_->setEnabled(running_);
}

}  // namespace paramscope::ui
