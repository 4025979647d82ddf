#include "jobs_dock.h"

#include <QApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPainter>
#include <QPushButton>
#include <QStyledItemDelegate>
#include <QTreeView>
#include <QVBoxLayout>

#include "jobs_model.h"

namespace paramscope::ui {
namespace {

/// Draws the progress column as a bar.
class ProgressDelegate : public QStyledItemDelegate {
public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override {
    QStyleOptionProgressBar bar;
    bar.rect = option.rect.adjusted(2, 2, -2, -2);
    bar.minimum = 0;
    bar.maximum = 1000;
    bar.progress = static_cast<int>(index.data(JobsModel::FractionRole).toDouble() * 1000);
    bar.text = index.data().toString();
    bar.textVisible = true;
    bar.state = option.state | QStyle::State_Horizontal;
    QApplication::style()->drawControl(QStyle::CE_ProgressBar, &bar, painter);
  }
};

}  // namespace

JobsDock::JobsDock(JobsModel* model, QWidget* parent)
    : QDockWidget(tr("Jobs"), parent),
      model_(model),
      view_(new QTreeView(this)),
      cancel_(new QPushButton(tr("Cancel"), this)),
      clear_(new QPushButton(tr("Clear Finished"), this)) {
  setObjectName(QStringLiteral("jobsDock"));
  view_->setObjectName(QStringLiteral("jobsView"));
  cancel_->setObjectName(QStringLiteral("cancelJob"));
  clear_->setObjectName(QStringLiteral("clearJobs"));
  view_->setModel(model_);
  view_->setRootIsDecorated(false);
  view_->setItemDelegateForColumn(JobsModel::ProgressColumn, new ProgressDelegate(view_));
  view_->header()->setSectionResizeMode(JobsModel::TitleColumn, QHeaderView::Stretch);
  view_->header()->setStretchLastSection(false);
  view_->setColumnWidth(JobsModel::ProgressColumn, 140);
  view_->setColumnWidth(JobsModel::StateColumn, 200);

  auto* body = new QWidget(this);
  auto* layout = new QVBoxLayout(body);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(view_);
  auto* buttons = new QHBoxLayout;
  buttons->addStretch();
  buttons->addWidget(cancel_);
  buttons->addWidget(clear_);
  layout->addLayout(buttons);
  setWidget(body);

  connect(cancel_, &QPushButton::clicked, this, &JobsDock::cancelSelected);
  connect(clear_, &QPushButton::clicked, model_, &JobsModel::clearFinished);
  for (auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
    connect(model_, signal, this, &JobsDock::updateButtons);
  connect(model_, &QAbstractItemModel::dataChanged, this, &JobsDock::updateButtons);
  updateButtons();
}

void JobsDock::cancelSelected() {
  const QModelIndex current = view_->currentIndex();
  if (Job* job = current.isValid() ? model_->jobAt(current.row()) : nullptr; job && job->running()) {
    job->cancel();
    return;
  }
  for (int row = 0; row < model_->rowCount(); ++row)
    if (Job* job = model_->jobAt(row); job->running()) job->cancel();
}

void JobsDock::updateButtons() {
  cancel_->setEnabled(model_->runningCount() > 0);
  clear_->setEnabled(model_->rowCount() > model_->runningCount());
}

}  // namespace paramscope::ui
