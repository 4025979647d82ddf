#include "checkpoint_loader.h"

#include <algorithm>
#include <exception>
#include <filesystem>

#include <QFile>
#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

#include "paramscope/error.h"

namespace paramscope::ui {
namespace {

struct Result {
  CheckpointPtr checkpoint;
  QString error;
};

Result load(const QString& path) {
  try {
    // Local 8-bit file names: what the file system holds, whatever Qt decoded them as.
    std::filesystem::path p(QFile::encodeName(path).toStdString());
    return {std::make_shared<const Checkpoint>(open_checkpoint(p)), {}};
  } catch (const std::bad_alloc&) {
    return {nullptr, path + QStringLiteral(": not enough memory to open")};
  } catch (const std::exception& e) {
    // Error::what() names the file already; anything else (a bug) gets the path added.
    const QString what = QString::fromUtf8(e.what());
    return {nullptr, dynamic_cast<const Error*>(&e) ? what : path + QStringLiteral(": ") + what};
  }
}

}  // namespace

CheckpointLoader::CheckpointLoader(QObject* parent) : QObject(parent) {}

CheckpointLoader::~CheckpointLoader() {
  for (QObject* o : running_) {
    auto* watcher = static_cast<QFutureWatcher<Result>*>(o);
    watcher->disconnect();
    watcher->waitForFinished();
  }
}

void CheckpointLoader::open(const QString& path) {
  auto* watcher = new QFutureWatcher<Result>(this);
  connect(watcher, &QFutureWatcher<Result>::finished, this, [this, watcher, path] {
    const Result result = watcher->result();
    // Forget the load before emitting, so that pending() is current for the receivers.
    running_.erase(std::find(running_.begin(), running_.end(), watcher));
    watcher->deleteLater();
    if (result.checkpoint)
      emit loaded(path, result.checkpoint);
    else
      emit failed(path, result.error);
  });
  running_.push_back(watcher);
  watcher->setFuture(QtConcurrent::run(load, path));
}

}  // namespace paramscope::ui
