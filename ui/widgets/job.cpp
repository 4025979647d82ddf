#include "job.h"

#include <cmath>

#include <QFutureWatcher>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include "paramscope/error.h"

namespace paramscope::ui {
namespace {

// What the worker hands back: the GUI-thread closure, or how it failed.
struct Outcome {
  std::function<void()> deliver;
  Job::State state = Job::State::Done;
  QString message;
};

}  // namespace

const char* stateName(Job::State s) noexcept {
  switch (s) {
    case Job::State::Running:
      return "running";
    case Job::State::Done:
      return "done";
    case Job::State::Failed:
      return "failed";
    case Job::State::Cancelled:
      return "cancelled";
  }
  return "";
}

Job::Job(QString title, Work work, QObject* parent)
    : QObject(parent), title_(std::move(title)), shared_(std::make_shared<Shared>()), poller_(new QTimer(this)) {
  ThreadPool::global().run_workers_in_background();
  auto shared = shared_;
  auto* watcher = new QFutureWatcher<Outcome>(this);
  watcher_ = watcher;
  connect(watcher, &QFutureWatcher<Outcome>::finished, this, &Job::onFinished);
  watcher->setFuture(QtConcurrent::run([shared, work = std::move(work)]() -> Outcome {
    // Jobs yield to the GUI thread: its event loop must keep running while they use every core.
    lower_thread_priority();
    JobControl control{&shared->cancel, [shared](std::uint64_t done, std::uint64_t total) {
                         shared->total.store(total, std::memory_order_relaxed);
                         shared->done.store(done, std::memory_order_relaxed);
                       }};
    try {
      return {work(control), Job::State::Done, {}};
    } catch (const Error& e) {
      if (e.kind() == Error::Kind::Cancelled) return {{}, Job::State::Cancelled, QObject::tr("cancelled")};
      return {{}, Job::State::Failed, QString::fromStdString(e.what())};
    } catch (const std::exception& e) {
      return {{}, Job::State::Failed, QString::fromStdString(e.what())};
    }
  }));
  // Progress is polled, not signalled per callback: workers report far more often than a bar
  // can move, and polling keeps them free of Qt.
  poller_->setInterval(200);
  connect(poller_, &QTimer::timeout, this, &Job::poll);
  poller_->start();
}

Job::~Job() {
  shared_->cancel.cancel();
  if (auto* w = static_cast<QFutureWatcher<Outcome>*>(watcher_); w && w->isRunning()) {
    w->disconnect(this);
    w->waitForFinished();
  }
}

void Job::cancel() { shared_->cancel.cancel(); }

void Job::poll() {
  const std::uint64_t total = shared_->total.load(std::memory_order_relaxed);
  if (total == 0) return;
  const double f = std::min(1.0, static_cast<double>(shared_->done.load(std::memory_order_relaxed)) /
                                     static_cast<double>(total));
  // Only steps a bar can show (0.5 %): with OpenGL views in the window, every repaint of the
  // window recomposes them, which is not free with a software renderer.
  if (std::floor(f * 200) != std::floor(fraction_ * 200) || (f == 1 && fraction_ != 1)) {
    fraction_ = f;
    emit progressChanged(f);
  }
}

void Job::onFinished() {
  poller_->stop();
  const Outcome o = static_cast<QFutureWatcher<Outcome>*>(watcher_)->result();
  state_ = o.state;
  message_ = o.message;
  if (state_ == State::Done) {
    if (o.deliver) o.deliver();
    fraction_ = 1;
    emit progressChanged(1);
  }
  emit finished();
}

}  // namespace paramscope::ui
