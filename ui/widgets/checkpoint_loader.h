// Opens checkpoints on worker threads so that the GUI never waits for a file.
#pragma once

#include <vector>

#include <QObject>
#include <QString>

#include "checkpoint_tree_model.h"

namespace paramscope::ui {

class CheckpointLoader : public QObject {
  Q_OBJECT

public:
  explicit CheckpointLoader(QObject* parent = nullptr);
  /// Waits for the loads still running (their results are dropped).
  ~CheckpointLoader() override;

  /// Starts paramscope::open_checkpoint(path) on a worker thread; loaded() or failed() follows,
  /// on this object's thread.
  void open(const QString& path);
  /// Loads started and not finished yet.
  int pending() const noexcept { return static_cast<int>(running_.size()); }

signals:
  void loaded(const QString& path, paramscope::ui::CheckpointPtr checkpoint);
  /// message is the core's one-line Error text ("path: what is wrong").
  void failed(const QString& path, const QString& message);

private:
  // The QFutureWatchers of running loads (children of this; their result type is private to the .cpp).
  std::vector<QObject*> running_;
};

}  // namespace paramscope::ui
