// The main window. It only wires things together: the tree dock, the chart view, the loader,
// the File menu and the status bar; each of those does its own work.
#pragma once

#include <memory>

#include <QMainWindow>
#include <QStringList>

class QLabel;
class QMimeData;

namespace paramscope {
class Checkpoint;
}
namespace paramscope::figures {
class BlockChart;
}

namespace paramscope::ui {

class CheckpointLoader;
class CheckpointTreeModel;
class CriterionPanel;
class FigureTabs;
class Job;
class JobsDock;
class JobsModel;
struct ComputeRequest;
class RecentFiles;
class TreeDock;
class VtkViewWidget;

/// The local files and folders in dragged data (URLs that are not local files are left out).
QStringList localPaths(const QMimeData* data);

class MainWindow : public QMainWindow {
  Q_OBJECT

public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Opens a checkpoint file or folder in the background; loaded() or loadFailed() follows.
  void openPath(const QString& path);
  /// Loads that have not finished.
  int pendingLoads() const;
  /// Failed loads show a message box (default) or only the status bar (scripted runs, tests).
  void setErrorDialogsEnabled(bool enabled) { errorDialogs_ = enabled; }

  CheckpointTreeModel* model() const noexcept { return model_; }
  TreeDock* treeDock() const noexcept { return treeDock_; }
  /// The blocks chart's view and scene (the first tab of the figures).
  VtkViewWidget* chartView() const;
  figures::BlockChart& chart() const;
  FigureTabs* figures() const noexcept { return figures_; }
  RecentFiles* recentFiles() const noexcept { return recent_; }
  /// "safetensors · 21 tensors · 1,704 parameters" for the checkpoint shown.
  QString summary() const;
  CriterionPanel* criterionPanel() const noexcept { return criterionPanel_; }
  JobsModel* jobs() const noexcept { return jobs_; }
  JobsDock* jobsDock() const noexcept { return jobsDock_; }

  /// Starts an importance job on the checkpoint shown (nullptr if none is shown); its scores
  /// fill the tree's Importance column when it is done.
  Job* computeImportance(const ComputeRequest& request);
  /// Reopens the checkpoints that were open when the window last closed.
  void restoreSession();

signals:
  void loaded(const QString& path);
  void loadFailed(const QString& path, const QString& message);

protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

private:
  void createActions();
  void openFileDialog();
  void openFolderDialog();
  void closeCurrentCheckpoint();
  void showCheckpoint(int row);
  void onLoaded(const QString& path, std::shared_ptr<const paramscope::Checkpoint> checkpoint);
  void onLoadFailed(const QString& path, const QString& message);
  void exportFigure();
  void exportMask();
  void exportMaps();

  CheckpointTreeModel* model_;
  CheckpointLoader* loader_;
  TreeDock* treeDock_;
  JobsModel* jobs_;
  FigureTabs* figures_;
  RecentFiles* recent_ = nullptr;
  QLabel* summary_;
  JobsDock* jobsDock_;
  CriterionPanel* criterionPanel_;
  QAction* closeAction_ = nullptr;
  QAction* exportMask_ = nullptr;
  QAction* exportMaps_ = nullptr;
  bool errorDialogs_ = true;
};

}  // namespace paramscope::ui
