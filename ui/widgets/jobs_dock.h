// The Jobs dock: every job with a progress bar, Cancel for the selected one, errors in place.
#pragma once

#include <QDockWidget>

class QPushButton;
class QTreeView;

namespace paramscope::ui {

class JobsModel;

class JobsDock : public QDockWidget {
  Q_OBJECT

public:
  JobsDock(JobsModel* model, QWidget* parent = nullptr);

  QTreeView* view() const noexcept { return view_; }
  /// Cancels the selected job, or every running job when none is selected.
  void cancelSelected();

private:
  void updateButtons();

  JobsModel* model_;
  QTreeView* view_;
  QPushButton* cancel_;
  QPushButton* clear_;
};

}  // namespace paramscope::ui
