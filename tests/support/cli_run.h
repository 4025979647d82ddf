// Runs paramscope-cli in a child process for the CLI tests.
#pragma once

#include <QByteArray>
#include <QProcess>
#include <QStringList>
#include <QtGlobal>

#include "test_paths.h"

namespace paramscope::test {

struct CliRun {
  int code;  ///< exit code, -1 if the process crashed
  QByteArray out, err;
};

inline CliRun run_cli(const QStringList& args, int timeout_ms = 300000) {
  QProcess p;
  p.start(QString::fromStdString(cli().string()), args);
  if (!p.waitForFinished(timeout_ms))
    qFatal("paramscope-cli %s did not finish: %s", qPrintable(args.join(' ')), qPrintable(p.errorString()));
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
          p.readAllStandardError()};
}

}  // namespace paramscope::test
