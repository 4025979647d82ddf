// One long computation of the core on a worker thread, seen from the GUI thread: its progress,
// a way to cancel it, and how it ended. The GUI thread never waits for it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include <QObject>
#include <QString>

#include "paramscope/jobs.h"

class QTimer;

namespace paramscope::ui {

class Job : public QObject {
  Q_OBJECT

public:
  enum class State { Running, Done, Failed, Cancelled };
  /// Runs on a worker thread with the job's control (progress, cancel). It returns what to do
  /// with the result on the GUI thread (a closure holding the result), or throws.
  using Work = std::function<std::function<void()>(const paramscope::JobControl&)>;

  /// Starts work at once. The job stays alive (owned by parent) after it ends.
  Job(QString title, Work work, QObject* parent = nullptr);
  /// Cancels and waits for the worker (its result is dropped).
  ~Job() override;

  const QString& title() const noexcept { return title_; }
  State state() const noexcept { return state_; }
  /// In [0, 1]; 1 once Done.
  double fraction() const noexcept { return fraction_; }
  /// The error of a failed job (the core's one-line message), "" otherwise.
  const QString& message() const noexcept { return message_; }
  bool running() const noexcept { return state_ == State::Running; }

  /// Asks the work to stop; the job ends Cancelled within a fraction of a second.
  void cancel();

signals:
  void progressChanged(double fraction);
  /// state() tells how it ended. For Done, the work's closure has run just before.
  void finished();

private:
  void poll();
  void onFinished();

  QString title_;
  State state_ = State::Running;
  double fraction_ = 0;
  QString message_;
  // Shared with the worker, which may outlive a cancelled job's wait only in a destructor.
  struct Shared {
    paramscope::CancelToken cancel;
    std::atomic<std::uint64_t> done{0}, total{0};
  };
  std::shared_ptr<Shared> shared_;
  QTimer* poller_;
  QObject* watcher_ = nullptr;
};

const char* stateName(Job::State s) noexcept;

}  // namespace paramscope::ui
