// The "Open Recent" list: kept in QSettings, most recent first, shown as a menu.
#pragma once

#include <QObject>
#include <QStringList>

class QMenu;

namespace paramscope::ui {

class RecentFiles : public QObject {
  Q_OBJECT

public:
  static constexpr int kMaxEntries = 10;
  static constexpr const char* kSettingsKey = "recentFiles";

  /// Fills menu (not owned) from the settings, and keeps it up to date.
  explicit RecentFiles(QMenu* menu, QObject* parent = nullptr);

  /// Puts path first (moving it if it is listed already) and saves the list.
  void add(const QString& path);
  void clear();
  QStringList paths() const;

signals:
  void openRequested(const QString& path);

private:
  void save(const QStringList& paths);
  void rebuildMenu();

  QMenu* menu_;
};

}  // namespace paramscope::ui
