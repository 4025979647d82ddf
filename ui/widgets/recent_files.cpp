#include "recent_files.h"

#include <QAction>
#include <QDir>
#include <QMenu>
#include <QSettings>

namespace paramscope::ui {

RecentFiles::RecentFiles(QMenu* menu, QObject* parent) : QObject(parent), menu_(menu) { rebuildMenu(); }

QStringList RecentFiles::paths() const { return QSettings().value(kSettingsKey).toStringList(); }

void RecentFiles::add(const QString& path) {
  QStringList list = paths();
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > kMaxEntries) list.removeLast();
  save(list);
}

void RecentFiles::clear() { save({}); }

void RecentFiles::save(const QStringList& paths) {
  QSettings().setValue(kSettingsKey, paths);
  rebuildMenu();
}

void RecentFiles::rebuildMenu() {
  menu_->clear();
  const QStringList list = paths();
  int n = 0;
  for (const QString& path : list) {
    // "&1 model.safetensors" with the full path as tooltip; '&' in names must not become mnemonics.
    QString name = QDir::toNativeSeparators(path);
    name.replace(QLatin1Char('&'), QLatin1String("&&"));
    QAction* a = menu_->addAction(n < 9 ? QStringLiteral("&%1 %2").arg(n + 1).arg(name) : name);
    a->setData(path);
    connect(a, &QAction::triggered, this, [this, path] { emit openRequested(path); });
    ++n;
  }
  if (!list.isEmpty()) menu_->addSeparator();
  QAction* clearAction = menu_->addAction(tr("Clear Recent"));
  clearAction->setEnabled(!list.isEmpty());
  // Queued: clearing rebuilds the menu, which deletes the action that is still being triggered.
  connect(clearAction, &QAction::triggered, this, &RecentFiles::clear, Qt::QueuedConnection);
}

}  // namespace paramscope::ui
