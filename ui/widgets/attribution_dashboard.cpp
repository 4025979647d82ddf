#include "attribution_dashboard.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include <QComboBox>
#include <QEvent>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSettings>
#include <QSlider>
#include <QSplitter>
#include <QVBoxLayout>

#include "attribution_inputs_bar.h"
#include "jobs_model.h"
#include "paramscope/error.h"
#include "paramscope/figures/attribution_data.h"
#include "paramscope/figures/line_chart.h"
#include "vtk_view_widget.h"

namespace paramscope::ui {
namespace {

constexpr const char* kModelKey = "attributions/model";
constexpr const char* kInputsKey = "attributions/inputs";

QString number(double v) {
  return QString::number(v, 'g', 3);
}

}  // namespace

AttributionDashboard::AttributionDashboard(JobsModel* jobs, QWidget* parent)
    : QWidget(parent),
      jobs_(jobs),
      inputs_(new AttributionInputsBar(this)),
      sign_(new QComboBox(this)),
      alpha_(new QSlider(Qt::Horizontal, this)),
      alphaLabel_(new QLabel(this)),
      status_(new QLabel(this)),
      grid_(new QWidget(this)),
      deletion_(std::make_shared<figures::LineChart>()),
      insertion_(std::make_shared<figures::LineChart>()),
      deletionView_(new VtkViewWidget(this)),
      insertionView_(new VtkViewWidget(this)),
      guard_(std::make_shared<PostGuard>()) {
  guard_->target = this;
  setObjectName(QStringLiteral("attributionDashboard"));
  for (int i = 0; i < kAttributionMethodCount; ++i) {
    auto scene = std::make_shared<figures::AttributionScene>();
    scenes_[static_cast<std::size_t>(i)] = scene;
    auto* view = new VtkViewWidget(grid_);
    view->setObjectName(
        QStringLiteral("attrView-%1").arg(QLatin1String(attributionMethodKey(static_cast<AttributionMethod>(i)))));
    view->setScene(scene);
    view->installEventFilter(this);
    view->hide();
    views_[static_cast<std::size_t>(i)] = view;
  }
  new QGridLayout(grid_);
  grid_->layout()->setContentsMargins(0, 0, 0, 0);
  deletionView_->setScene(deletion_);
  insertionView_->setScene(insertion_);
  deletionView_->installEventFilter(this);
  insertionView_->installEventFilter(this);
  deletion_->clear();
  insertion_->clear();

  sign_->setObjectName(QStringLiteral("attrSign"));
  for (auto s : {figures::AttributionSign::Signed, figures::AttributionSign::Positive,
                 figures::AttributionSign::Negative, figures::AttributionSign::Absolute}) {
    const auto name = figures::attribution_sign_name(s);
    sign_->addItem(QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size())), static_cast<int>(s));
  }
  alpha_->setObjectName(QStringLiteral("attrAlpha"));
  alpha_->setRange(0, 100);
  alpha_->setValue(50);
  alpha_->setMaximumWidth(160);
  alphaLabel_->setText(QStringLiteral("0.50"));
  status_->setObjectName(QStringLiteral("attrStatus"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_->setText(
      tr("Open an ONNX classifier (Model...) and inputs for it (Inputs...), choose the class and press "
         "Compute."));

  auto* controls = new QHBoxLayout;
  controls->setContentsMargins(6, 0, 6, 0);
  controls->addWidget(new QLabel(tr("Show:"), this));
  controls->addWidget(sign_);
  controls->addWidget(new QLabel(tr("Alpha:"), this));
  controls->addWidget(alpha_);
  controls->addWidget(alphaLabel_);
  controls->addStretch(1);
  auto* left = new QWidget(this);
  auto* leftLayout = new QVBoxLayout(left);
  leftLayout->setContentsMargins(0, 0, 0, 0);
  leftLayout->addLayout(controls);
  leftLayout->addWidget(grid_, 1);
  auto* curves = new QSplitter(Qt::Vertical, this);
  curves->addWidget(deletionView_);
  curves->addWidget(insertionView_);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->setObjectName(QStringLiteral("attrSplit"));
  split->addWidget(left);
  split->addWidget(curves);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setSizes({640, 360});  // the curves' legends need the room; the overlays' titles too
  inputs_->setMinimumWidth(200);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(2);
  layout->addWidget(inputs_);
  layout->addWidget(split, 1);
  layout->addWidget(status_);

  connect(inputs_, &AttributionInputsBar::modelChosen, this, [this](const QString& m) { open(m, inputPaths_); });
  connect(inputs_, &AttributionInputsBar::inputsChosen, this, [this](const QStringList& i) { open(modelPath_, i); });
  connect(inputs_, &AttributionInputsBar::sampleChanged, this, [this] { predict(); });
  connect(inputs_, &AttributionInputsBar::computeRequested, this, [this] { compute(); });
  connect(inputs_, &AttributionInputsBar::stopRequested, this, &AttributionDashboard::stop);
  connect(sign_, &QComboBox::currentIndexChanged, this,
          [this] { setSign(static_cast<figures::AttributionSign>(sign_->currentData().toInt())); });
  connect(alpha_, &QSlider::valueChanged, this, [this](int v) { setAlpha(v / 100.0); });
}

AttributionDashboard::~AttributionDashboard() {
  {
    const std::lock_guard lock(guard_->mutex);
    guard_->target = nullptr;
  }
  if (stop_) stop_->store(true);
}

Job* AttributionDashboard::open(const QString& model, const QStringList& inputs) {
  modelPath_ = model;
  inputPaths_ = inputs;
  inputs_->setFiles(model, inputs);
  if (model.isEmpty()) {
    status_->setText(tr("Choose the ONNX model (Model...) the inputs are for."));
    return nullptr;
  }
  QSettings settings;
  settings.setValue(kModelKey, model);
  settings.setValue(kInputsKey, inputs);
  if (openJob_ && openJob_->running()) openJob_->cancel();
  samples_.reset();
  predictions_.clear();
  inputs_->setSamples({});
  std::vector<std::string> files;
  for (const QString& f : inputs) files.push_back(f.toStdString());
  status_->setText(tr("Opening %1...").arg(QFileInfo(model).fileName()));
  QPointer<AttributionDashboard> self(this);
  Job* job = jobs_->start(
      tr("Open %1").arg(QFileInfo(model).fileName()),
      openAttributionWork(model.toStdString(), std::move(files), [self](std::shared_ptr<const AttributionSamples> s) {
        if (self) self->showSamples(std::move(s));
      }));
  connect(job, &Job::finished, this, [this, job] {
    if (job != openJob_) return;
    if (job->state() == Job::State::Failed) {
      openText_.clear();
      status_->setText(tr("Cannot open: %1").arg(job->message()));
    }
    if (job->state() != Job::State::Done) emit opened(false);
  });
  openJob_ = job;
  return job;
}

void AttributionDashboard::restoreSession() {
  QSettings settings;
  const QString model = settings.value(kModelKey).toString();
  QStringList inputs;
  for (const QString& f : settings.value(kInputsKey).toStringList())
    if (QFileInfo::exists(f)) inputs << f;
  if (!model.isEmpty() && QFileInfo::exists(model)) open(model, inputs);
}

void AttributionDashboard::showSamples(std::shared_ptr<const AttributionSamples> samples) {
  samples_ = std::move(samples);
  QStringList labels;
  for (const auto& s : samples_->samples) labels << s.label;
  const auto& in = samples_->model->inputs().front();
  openText_ = tr("%1 (input %2), %n sample(s)", nullptr, static_cast<int>(labels.size()))
                  .arg(QFileInfo(modelPath_).fileName(), QString::fromStdString(in.name));
  status_->setText(labels.isEmpty() ? openText_ + tr(". Open inputs for it (Inputs...).")
                                    : openText_ + QLatin1Char('.'));
  inputs_->setSamples(labels);
  emit opened(true);
  predict();
}

Array AttributionDashboard::currentInput() const {
  const int i = inputs_->sample();
  if (!samples_ || i < 0 || static_cast<std::size_t>(i) >= samples_->samples.size()) return {};
  return samples_->samples[static_cast<std::size_t>(i)].x;
}

void AttributionDashboard::predict() {
  const Array x = currentInput();
  if (!samples_ || x.rank() == 0) return;
  if (predictJob_ && predictJob_->running()) predictJob_->cancel();
  QPointer<AttributionDashboard> self(this);
  Job* job = jobs_->start(
      tr("Top predictions"), predictWork(samples_->model, x, 5, [self](std::vector<Prediction> p) {
        if (!self) return;
        self->predictions_ = p;
        self->inputs_->setPredictions(p);
        if (!p.empty())
          self->status_->setText(
              self->openText_ +
              tr(". Top prediction: class %1 (p=%2).").arg(p.front().cls).arg(p.front().probability, 0, 'f', 3));
        emit self->predicted();
      }));
  connect(job, &Job::finished, this, [this, job] {
    if (job->state() == Job::State::Failed) status_->setText(tr("Cannot run the model: %1").arg(job->message()));
  });
  predictJob_ = job;
}

std::vector<Job*> AttributionDashboard::compute() {
  const Array x = currentInput();
  const std::int64_t cls = inputs_->classIndex();
  const std::vector<AttributionMethod> methods = inputs_->methods();
  if (!samples_ || x.rank() == 0 || cls < 0 || methods.empty()) return {};
  stop();
  ++generation_;
  stop_ = std::make_shared<std::atomic<bool>>(false);
  shown_ = methods;
  error_.clear();
  for (auto& r : results_) r.reset();
  for (auto& s : scenes_) s->clear();
  deletion_->clear();
  insertion_->clear();
  layoutViews();
  // DeepLIFT-SHAP's references: the other samples (up to 16) of the same shape.
  Array references;
  if (std::find(methods.begin(), methods.end(), AttributionMethod::DeepLiftShap) != methods.end()) {
    std::vector<const Array*> others;
    for (int i = 0; i < static_cast<int>(samples_->samples.size()) && others.size() < 16; ++i)
      if (i != inputs_->sample() && samples_->samples[static_cast<std::size_t>(i)].x.shape() == x.shape())
        others.push_back(&samples_->samples[static_cast<std::size_t>(i)].x);
    if (!others.empty()) {
      std::vector<std::int64_t> shape = x.shape();
      shape[0] = static_cast<std::int64_t>(others.size());
      references = Array(x.type(), shape);
      const std::size_t bytes = x.byte_size();
      for (std::size_t k = 0; k < others.size(); ++k)
        std::copy_n(others[k]->bytes(), bytes, references.bytes() + k * bytes);
    }
  }
  std::vector<Job*> started;
  const unsigned generation = generation_;
  QPointer<AttributionDashboard> self(this);
  for (AttributionMethod m : methods) {
    AttributionRequest request;
    request.model = samples_->model;
    request.x = x;
    request.references = references;
    request.method = m;
    request.cls = cls;
    request.settings = inputs_->settings();
    request.stop = stop_;
    request.partialInterval = partialInterval_;
    if (m == AttributionMethod::Rise) {
      request.partial = [guard = guard_, generation](Array map, std::int64_t masks) {
        const std::lock_guard lock(guard->mutex);
        if (AttributionDashboard* d = guard->target)
          QMetaObject::invokeMethod(
              d, [d, generation, map = std::move(map), masks] { d->showPartial(generation, map, masks); },
              Qt::QueuedConnection);
      };
      scenes_[static_cast<std::size_t>(m)]->clear();
    }
    Job* job = jobs_->start(
        tr("%1 of class %2").arg(attributionMethodTitle(m)).arg(cls),
        attributionWork(std::move(request), [self, generation](std::shared_ptr<const AttributionResult> r) {
          if (self) self->showResult(generation, std::move(r));
        }));
    connect(job, &Job::finished, this, [this, job, m, generation] {
      if (generation != generation_) return;
      if (job->state() == Job::State::Failed)
        error_ += tr(" %1 failed: %2").arg(attributionMethodTitle(m), job->message());
      if (job->state() == Job::State::Cancelled) error_ += tr(" %1 cancelled.").arg(attributionMethodTitle(m));
      jobEnded();
    });
    running_.push_back(job);
    started.push_back(job);
  }
  inputs_->setRunning(true);
  updateSummary();
  return started;
}

void AttributionDashboard::stop() {
  if (stop_) stop_->store(true);  // RISE returns with its map so far
  for (const auto& job : running_)
    if (job && job->running() && !job->title().startsWith(attributionMethodTitle(AttributionMethod::Rise)))
      job->cancel();
}

bool AttributionDashboard::running() const {
  return std::any_of(running_.begin(), running_.end(), [](const QPointer<Job>& j) { return j && j->running(); });
}

void AttributionDashboard::jobEnded() {
  if (running()) return;
  running_.clear();
  inputs_->setRunning(false);
  updateSummary();
  emit computed();
}

void AttributionDashboard::layoutViews() {
  auto* grid = static_cast<QGridLayout*>(grid_->layout());
  for (auto* v : views_) {
    grid->removeWidget(v);
    v->hide();
  }
  const int n = static_cast<int>(shown_.size());
  const int cols = n <= 3 ? std::max(n, 1) : (n + 1) / 2;
  for (int i = 0; i < n; ++i) {
    VtkViewWidget* v = views_[static_cast<std::size_t>(shown_[static_cast<std::size_t>(i)])];
    grid->addWidget(v, i / cols, i % cols);
    v->show();
  }
  if (!shown_.empty() && (!focused_ || focused_ == deletion_.get() || focused_ == insertion_.get())) focused_ = nullptr;
}

void AttributionDashboard::showMap(AttributionMethod m, const Array& map, const std::string& title) {
  const Array x = currentInput();
  figures::AttributionScene& scene = *scenes_[static_cast<std::size_t>(m)];
  try {
    const std::vector<int> axes = xai::spatial_axes(x.shape());
    figures::AttributionImage image = figures::attribution_image(x, map, 0, axes);
    scene.set_data(std::move(image.input), std::move(image.map), title);
  } catch (const Error& e) {
    scene.clear();
    error_ += QStringLiteral(" ") + QString::fromStdString(e.what());
  }
  views_[static_cast<std::size_t>(m)]->renderLater();
}

void AttributionDashboard::showPartial(unsigned generation, Array map, std::int64_t masks) {
  if (generation != generation_ || results_[static_cast<std::size_t>(AttributionMethod::Rise)]) return;
  const std::int64_t total = inputs_->settings().rise.masks;
  const std::string title = "RISE, class " + std::to_string(inputs_->classIndex()) + ": " + std::to_string(masks) +
                            " of " + std::to_string(total) + " masks";
  showMap(AttributionMethod::Rise, map, title);
  emit partialShown(masks);
  emit updated();
}

void AttributionDashboard::showResult(unsigned generation, std::shared_ptr<const AttributionResult> r) {
  if (generation != generation_) return;
  results_[static_cast<std::size_t>(r->method)] = r;
  const xai::Attribution& a = r->attribution;
  // Short enough for a quarter of the tab: the class combo already shows the class's score.
  std::string title = attributionMethodTitle(r->method).toStdString();
  if (!a.classes.empty()) title += ", class " + std::to_string(a.classes.front());
  if (!a.delta.empty()) title += ", \xCE\x94 " + number(a.delta.front()).toStdString();
  if (r->method == AttributionMethod::Rise) title += ", " + std::to_string(r->masks) + " masks";
  showMap(r->method, a.map, title);
  updateCurves();
  updateSummary();
  emit updated();
}

void AttributionDashboard::updateCurves() {
  std::vector<figures::LineSeries> del, ins;
  for (AttributionMethod m : shown_) {
    const auto& r = results_[static_cast<std::size_t>(m)];
    if (!r || r->curves.deletion.empty() || r->curves.insertion.empty()) continue;
    const QString name = attributionMethodTitle(m);
    const xai::Curve& d = r->curves.deletion.front();
    const xai::Curve& i = r->curves.insertion.front();
    del.push_back({tr("%1 (AUC %2)").arg(name).arg(d.auc, 0, 'f', 3).toStdString(), d.fraction, d.score});
    ins.push_back({tr("%1 (AUC %2)").arg(name).arg(i.auc, 0, 'f', 3).toStdString(), i.fraction, i.score});
  }
  const std::string cls = "p(class " + std::to_string(inputs_->classIndex()) + ")";
  deletion_->set_series(std::move(del), "Deletion (lower AUC is better)", "fraction of pixels deleted", cls);
  insertion_->set_series(std::move(ins), "Insertion (higher AUC is better)", "fraction of pixels inserted", cls);
  deletionView_->renderLater();
  insertionView_->renderLater();
}

void AttributionDashboard::updateSummary() {
  QStringList parts;
  for (AttributionMethod m : shown_) {
    const auto& r = results_[static_cast<std::size_t>(m)];
    if (!r || r->curves.deletion.empty() || r->curves.insertion.empty()) continue;
    parts << tr("%1 deletion %2, insertion %3")
                 .arg(attributionMethodTitle(m))
                 .arg(r->curves.deletion.front().auc, 0, 'f', 3)
                 .arg(r->curves.insertion.front().auc, 0, 'f', 3);
  }
  const int sample = inputs_->sample();
  QString text = openText_;
  if (samples_ && sample >= 0)
    text +=
        tr(". %1, class %2").arg(samples_->samples[static_cast<std::size_t>(sample)].label).arg(inputs_->classIndex());
  if (running()) text += tr(": computing %n method(s)...", nullptr, static_cast<int>(shown_.size()));
  if (!parts.isEmpty()) text += tr(". AUC: ") + parts.join(QStringLiteral("; ")) + QLatin1Char('.');
  status_->setText(text + error_);
}

QString AttributionDashboard::status() const {
  return status_->text();
}

void AttributionDashboard::setSign(figures::AttributionSign sign) {
  for (auto& s : scenes_) s->set_sign(sign);
  for (auto* v : views_) v->renderLater();
  const int i = sign_->findData(static_cast<int>(sign));
  if (i != sign_->currentIndex()) sign_->setCurrentIndex(i);
  emit updated();
}

void AttributionDashboard::setAlpha(double alpha) {
  alpha = std::clamp(alpha, 0.0, 1.0);
  for (auto& s : scenes_) s->set_alpha(alpha);
  for (auto* v : views_) v->renderLater();
  alphaLabel_->setText(QString::number(alpha, 'f', 2));
  const int pos = static_cast<int>(std::lround(alpha * 100));
  if (alpha_->value() != pos) {
    const QSignalBlocker block(alpha_);
    alpha_->setValue(pos);
  }
  emit updated();
}

bool AttributionDashboard::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::MouseButtonPress)
    if (auto* v = qobject_cast<VtkViewWidget*>(watched)) focused_ = v->scene();
  return QWidget::eventFilter(watched, event);
}

figures::Scene* AttributionDashboard::currentScene() const {
  if (focused_) return focused_;
  for (AttributionMethod m : shown_) return scenes_[static_cast<std::size_t>(m)].get();
  return scenes_[0].get();
}

QString AttributionDashboard::currentPageName() const {
  const figures::Scene* s = currentScene();
  if (s == deletion_.get()) return QStringLiteral("attribution-deletion");
  if (s == insertion_.get()) return QStringLiteral("attribution-insertion");
  for (int i = 0; i < kAttributionMethodCount; ++i)
    if (s == scenes_[static_cast<std::size_t>(i)].get())
      return QStringLiteral("attribution-%1")
          .arg(QLatin1String(attributionMethodKey(static_cast<AttributionMethod>(i))));
  return QStringLiteral("attribution");
}

}  // namespace paramscope::ui
