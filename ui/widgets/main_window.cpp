#include "main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>

#include "attribution_dashboard.h"
#include "checkpoint_loader.h"
#include "checkpoint_tree_model.h"
#include "criterion_panel.h"
#include "export_maps_dialog.h"
#include "export_mask_dialog.h"
#include "figure_tabs.h"
#include "heatmap_page.h"
#include "paramscope/error.h"
#include "paramscope/figures/scene.h"
#include "importance_job.h"
#include "jobs_dock.h"
#include "jobs_model.h"
#include "number_format.h"
#include "paramscope/figures/block_chart.h"
#include "recent_files.h"
#include "tree_dock.h"
#include "vtk_view_widget.h"

namespace paramscope::ui {
namespace {

constexpr const char* kGeometryKey = "mainWindow/geometry";
constexpr const char* kStateKey = "mainWindow/state";
constexpr const char* kLastDirKey = "lastDirectory";
constexpr const char* kSessionFilesKey = "session/files";
constexpr const char* kSessionRequestKey = "session/importance";

QString summaryOf(const Checkpoint& c) {
  const std::size_t n = c.tensors().size();
  return QStringLiteral("%1 · %2 %3 · %4 %5")
      .arg(QString::fromStdString(c.format()), formatCount(n), n == 1 ? MainWindow::tr("tensor") : MainWindow::tr("tensors"),
           formatCount(c.parameter_count()),
           c.parameter_count() == 1 ? MainWindow::tr("parameter") : MainWindow::tr("parameters"));
}

QString lastDirectory() { return QSettings().value(kLastDirKey, QDir::homePath()).toString(); }

}  // namespace

QStringList localPaths(const QMimeData* data) {
  QStringList paths;
  if (!data) return paths;
  for (const QUrl& url : data->urls())
    if (url.isLocalFile()) paths << url.toLocalFile();
  return paths;
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      model_(new CheckpointTreeModel(this)),
      loader_(new CheckpointLoader(this)),
      treeDock_(new TreeDock(model_, this)),
      jobs_(new JobsModel(this)),
      figures_(new FigureTabs(jobs_, model_, this)),
      summary_(new QLabel(this)),
      jobsDock_(new JobsDock(jobs_, this)),
      criterionPanel_(new CriterionPanel(this)) {
  setObjectName(QStringLiteral("mainWindow"));
  setWindowTitle(tr("ParamScope"));
  setAcceptDrops(true);

  setCentralWidget(figures_);
  // The tree above the Importance dock on the left, so that the figures get the whole width left.
  addDockWidget(Qt::LeftDockWidgetArea, treeDock_);
  addDockWidget(Qt::LeftDockWidgetArea, criterionPanel_);
  splitDockWidget(treeDock_, criterionPanel_, Qt::Vertical);
  addDockWidget(Qt::BottomDockWidgetArea, jobsDock_);
  criterionPanel_->setCheckpointAvailable(false);
  summary_->setObjectName(QStringLiteral("checkpointSummary"));
  statusBar()->addPermanentWidget(summary_);
  createActions();

  connect(loader_, &CheckpointLoader::loaded, this, &MainWindow::onLoaded);
  connect(loader_, &CheckpointLoader::failed, this, &MainWindow::onLoadFailed);
  connect(treeDock_, &TreeDock::currentCheckpointChanged, this, &MainWindow::showCheckpoint);
  connect(recent_, &RecentFiles::openRequested, this, &MainWindow::openPath);
  connect(criterionPanel_, &CriterionPanel::computeRequested, this, &MainWindow::computeImportance);
  // The heatmap's element scores follow the Importance dock's criterion (taken again on Compute).
  figures_->heatmapPage()->setRequestSource([this] { return criterionPanel_->request(); });
  connect(criterionPanel_, &CriterionPanel::computeRequested, figures_->heatmapPage(), &HeatmapPage::refreshScores);
  connect(criterionPanel_, &CriterionPanel::requestChanged, figures_->heatmapPage(), &HeatmapPage::refreshScores);
  connect(treeDock_, &TreeDock::currentTensorChanged, this, [this](const Tensor* t) {
    if (!t) return;
    figures_->showTensor(model_->checkpointAt(treeDock_->currentCheckpoint()), t);
    if (figures_->currentIndex() == FigureTabs::BlocksTab || figures_->currentIndex() == FigureTabs::ProfileTab)
      figures_->setCurrentIndex(FigureTabs::HeatmapTab);
  });
  connect(figures_, &FigureTabs::tensorClicked, this,
          [this](const QString& name) { treeDock_->showTensor(treeDock_->currentCheckpoint(), name.toStdString()); });
  connect(figures_, &FigureTabs::readout, this, [this](const QString& text) { statusBar()->showMessage(text); });

  QSettings settings;
  const QStringList saved = settings.value(kSessionRequestKey).toStringList();
  if (saved.size() == 5) criterionPanel_->setRequest({saved[0], saved[1], saved[2], saved[3], saved[4]});
  if (!restoreGeometry(settings.value(kGeometryKey).toByteArray())) resize(1280, 800);
  if (!restoreState(settings.value(kStateKey).toByteArray())) {
    resizeDocks({treeDock_}, {540}, Qt::Horizontal);
    resizeDocks({criterionPanel_}, {220}, Qt::Vertical);
    resizeDocks({jobsDock_}, {130}, Qt::Vertical);
  }
  statusBar()->showMessage(tr("Open a checkpoint file or folder (File menu, or drop it here)"));
}

MainWindow::~MainWindow() = default;

void MainWindow::createActions() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open File..."), this, &MainWindow::openFileDialog);
  open->setObjectName(QStringLiteral("actionOpenFile"));
  open->setShortcut(QKeySequence::Open);
  QAction* openFolder = file->addAction(tr("Open &Folder..."), this, &MainWindow::openFolderDialog);
  openFolder->setObjectName(QStringLiteral("actionOpenFolder"));
  openFolder->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  QMenu* recentMenu = file->addMenu(tr("Open &Recent"));
  recentMenu->setObjectName(QStringLiteral("menuRecent"));
  recent_ = new RecentFiles(recentMenu, this);
  file->addSeparator();
  QAction* exportAction = file->addAction(tr("&Export Figure..."), this, &MainWindow::exportFigure);
  exportAction->setObjectName(QStringLiteral("actionExportFigure"));
  exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  exportMask_ = file->addAction(tr("Export &Mask..."), this, &MainWindow::exportMask);
  exportMask_->setObjectName(QStringLiteral("actionExportMask"));
  exportMask_->setEnabled(false);
  exportMaps_ = file->addAction(tr("Export &Importance Maps..."), this, &MainWindow::exportMaps);
  exportMaps_->setObjectName(QStringLiteral("actionExportMaps"));
  exportMaps_->setEnabled(false);
  file->addSeparator();
  closeAction_ = file->addAction(tr("&Close Checkpoint"), this, &MainWindow::closeCurrentCheckpoint);
  closeAction_->setObjectName(QStringLiteral("actionCloseCheckpoint"));
  closeAction_->setShortcut(QKeySequence::Close);
  closeAction_->setEnabled(false);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setObjectName(QStringLiteral("actionQuit"));
  quit->setShortcut(QKeySequence::Quit);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(treeDock_->toggleViewAction());
  view->addAction(criterionPanel_->toggleViewAction());
  view->addAction(jobsDock_->toggleViewAction());
  view->addSeparator();
  QAction* lines = view->addAction(tr("Depth Profile as &Lines"));
  lines->setCheckable(true);
  lines->setChecked(figures_->profileLines());
  connect(lines, &QAction::toggled, figures_, &FigureTabs::setProfileLines);
}

void MainWindow::openPath(const QString& path) {
  const QString absolute = QDir::cleanPath(QFileInfo(path).absoluteFilePath());
  statusBar()->showMessage(tr("Opening %1...").arg(QDir::toNativeSeparators(absolute)));
  loader_->open(absolute);
}

int MainWindow::pendingLoads() const { return loader_->pending(); }

QString MainWindow::summary() const { return summary_->text(); }

void MainWindow::openFileDialog() {
  const QStringList files = QFileDialog::getOpenFileNames(
      this, tr("Open Checkpoint"), lastDirectory(),
      tr("Checkpoints (*.safetensors *.json *.pt *.pth *.bin *.ckpt *.h5 *.hdf5 *.keras *.onnx *.gguf);;"
         "All files (*)"));
  if (files.isEmpty()) return;
  QSettings().setValue(kLastDirKey, QFileInfo(files.front()).absolutePath());
  for (const QString& f : files) openPath(f);
}

void MainWindow::openFolderDialog() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Checkpoint Folder"), lastDirectory());
  if (dir.isEmpty()) return;
  QSettings().setValue(kLastDirKey, dir);
  openPath(dir);
}

void MainWindow::closeCurrentCheckpoint() {
  const int row = treeDock_->currentCheckpoint();
  if (row < 0) return;
  model_->removeCheckpoint(row);
  // The tree moves the current item to a neighbour, or nowhere when a tensor was current.
  if (treeDock_->currentCheckpoint() < 0 && model_->checkpointCount() > 0)
    treeDock_->showCheckpoint(std::min(row, model_->checkpointCount() - 1));
  if (model_->checkpointCount() == 0) showCheckpoint(-1);
}

void MainWindow::showCheckpoint(int row) {
  const CheckpointPtr c = model_->checkpointAt(row);
  figures_->showCheckpoint(c);
  if (c) {
    summary_->setText(summaryOf(*c));
    setWindowTitle(tr("%1 - ParamScope").arg(QFileInfo(QString::fromStdString(c->path().string())).fileName()));
  } else {
    summary_->clear();
    setWindowTitle(tr("ParamScope"));
  }
  closeAction_->setEnabled(c != nullptr);
  exportMask_->setEnabled(c != nullptr);
  exportMaps_->setEnabled(c != nullptr);
  criterionPanel_->setCheckpointAvailable(c != nullptr);
}

void MainWindow::onLoaded(const QString& path, std::shared_ptr<const Checkpoint> checkpoint) {
  const int row = model_->addCheckpoint(std::move(checkpoint));
  recent_->add(path);
  statusBar()->showMessage(tr("Opened %1").arg(QDir::toNativeSeparators(path)), 5000);
  treeDock_->showCheckpoint(row);
  // A filter that hides the new checkpoint leaves the tree's current item alone: show it anyway.
  if (treeDock_->currentCheckpoint() != row) showCheckpoint(row);
  emit loaded(path);
}

void MainWindow::onLoadFailed(const QString& path, const QString& message) {
  statusBar()->showMessage(message);
  if (errorDialogs_) {
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot open checkpoint"), message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();  // not exec(): loads finishing meanwhile still show up
  }
  emit loadFailed(path, message);
}

Job* MainWindow::computeImportance(const ComputeRequest& request) {
  const CheckpointPtr c = model_->checkpointAt(treeDock_->currentCheckpoint());
  if (!c) return nullptr;
  const QString name = QFileInfo(QString::fromStdString(c->path().string())).fileName();
  return jobs_->start(tr("%1 on %2").arg(request.label(), name),
                      importanceWork(c, request, [this](std::shared_ptr<const ImportanceResult> r) {
                        // The checkpoint's row may have moved (or gone) while the job ran.
                        for (int row = 0; row < model_->checkpointCount(); ++row)
                          if (model_->checkpointAt(row) == r->checkpoint)
                            model_->setImportance(row, r->request.label(), r->tensorScores, r->blockScores);
                        if (model_->checkpointAt(treeDock_->currentCheckpoint()) == r->checkpoint) {
                          figures_->showProfile(r->checkpoint, r->maps,
                                                parse_reduction(r->request.reduction.toStdString()),
                                                r->request.label(), r->surfaces);
                          figures_->setCurrentIndex(FigureTabs::ProfileTab);
                        }
                        statusBar()->showMessage(tr("Computed %1").arg(r->request.label()), 5000);
                      }));
}

VtkViewWidget* MainWindow::chartView() const { return figures_->view(FigureTabs::BlocksTab); }
figures::BlockChart& MainWindow::chart() const { return figures_->blocks(); }

void MainWindow::exportFigure() {
  figures::Scene* scene = figures_->currentScene();
  if (!scene) return;
  QString selected;
  const QString file = QFileDialog::getSaveFileName(
      this, tr("Export Figure"), QDir(lastDirectory()).filePath(figures_->currentFigureName() + ".png"),
      tr("PNG image, 300 dpi (*.png);;SVG (*.svg);;PDF (*.pdf)"), &selected);
  if (file.isEmpty()) return;
  QSettings().setValue(kLastDirKey, QFileInfo(file).absolutePath());
  figures::ExportOptions options;
  options.dpi = 300;
  try {
    scene->save(file.toStdString(), options);
    statusBar()->showMessage(tr("Exported %1").arg(QDir::toNativeSeparators(file)), 5000);
  } catch (const Error& e) {
    statusBar()->showMessage(QString::fromStdString(e.what()));
    if (errorDialogs_) QMessageBox::warning(this, tr("Cannot export the figure"), QString::fromStdString(e.what()));
  }
}

void MainWindow::exportMask() {
  const CheckpointPtr c = model_->checkpointAt(treeDock_->currentCheckpoint());
  if (!c) return;
  auto* dialog = new ExportMaskDialog(jobs_, c, criterionPanel_->request(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &ExportMaskDialog::exported, this, [this](const QString& s) { statusBar()->showMessage(s); });
  dialog->show();  // not modal: the job runs on while the user looks at the heatmap
}

void MainWindow::exportMaps() {
  const CheckpointPtr c = model_->checkpointAt(treeDock_->currentCheckpoint());
  if (!c) return;
  auto* dialog = new ExportMapsDialog(jobs_, c, criterionPanel_->request(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &ExportMapsDialog::exported, this, [this](const QString& s) { statusBar()->showMessage(s, 10000); });
  dialog->show();
}

void MainWindow::restoreSession() {
  for (const QString& path : QSettings().value(kSessionFilesKey).toStringList())
    if (QFileInfo::exists(path)) openPath(path);
  figures_->attributionDashboard()->restoreSession();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  QSettings settings;
  QStringList files;
  for (int row = 0; row < model_->checkpointCount(); ++row)
    files << QString::fromStdString(model_->checkpointAt(row)->path().string());
  settings.setValue(kSessionFilesKey, files);
  const ComputeRequest r = criterionPanel_->request();
  settings.setValue(kSessionRequestKey, QStringList{r.criterion, r.granularity, r.reduction, r.base, r.stats});
  settings.setValue(kGeometryKey, saveGeometry());
  settings.setValue(kStateKey, saveState());
  QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (!localPaths(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QStringList paths = localPaths(event->mimeData());
  if (paths.isEmpty()) return;
  for (const QString& p : paths) openPath(p);
  event->acceptProposedAction();
}

}  // namespace paramscope::ui
