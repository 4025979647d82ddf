#include "merge_inputs_bar.h"

#include <algorithm>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QToolButton>

#include "paramscope/checkpoint.h"
#include "paramscope/figures/interference_figures.h"

namespace paramscope::ui {

MergeInputsBar::MergeInputsBar(CheckpointTreeModel* model, QWidget* parent)
    : QWidget(parent),
      model_(model),
      base_(new QComboBox(this)),
      fineTunes_(new QToolButton(this)),
      menu_(new QMenu(this)),
      top_(new QDoubleSpinBox(this)),
      analyze_(new QPushButton(tr("Analyze"), this)) {
  base_->setObjectName(QStringLiteral("mergeBase"));
  base_->setToolTip(tr("The checkpoint the fine-tunes started from: task vectors are fine-tune minus base"));
  base_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  fineTunes_->setObjectName(QStringLiteral("mergeFineTunes"));
  fineTunes_->setPopupMode(QToolButton::InstantPopup);
  fineTunes_->setMenu(menu_);
  fineTunes_->setToolTip(tr("The fine-tuned checkpoints to compare (two or more)"));
  top_->setObjectName(QStringLiteral("mergeTop"));
  top_->setRange(0.1, 100);
  top_->setDecimals(1);
  top_->setValue(20);
  top_->setSuffix(QStringLiteral(" %"));
  top_->setToolTip(tr("The top-k of each task vector by magnitude, for the overlap (Jaccard) and top-k conflicts"));
  analyze_->setObjectName(QStringLiteral("mergeAnalyze"));

  auto* row = new QHBoxLayout(this);
  row->setContentsMargins(6, 4, 6, 0);
  row->addWidget(new QLabel(tr("Base:"), this));
  row->addWidget(base_);
  row->addWidget(new QLabel(tr("Fine-tunes:"), this));
  row->addWidget(fineTunes_);
  row->addWidget(new QLabel(tr("Top-k:"), this));
  row->addWidget(top_);
  row->addWidget(analyze_);
  row->addStretch(1);

  connect(analyze_, &QPushButton::clicked, this, &MergeInputsBar::analyzeRequested);
  connect(base_, &QComboBox::currentIndexChanged, this, &MergeInputsBar::updateState);
  for (auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
    connect(model_, signal, this, &MergeInputsBar::refresh);
  connect(model_, &QAbstractItemModel::modelReset, this, &MergeInputsBar::refresh);
  refresh();
}

void MergeInputsBar::refresh() {
  // Keep what was chosen, by checkpoint; new checkpoints join the fine-tunes.
  const CheckpointPtr oldBase = base();
  std::vector<CheckpointPtr> old = checkpoints_;
  std::vector<bool> oldChecked = checked_;
  checkpoints_.clear();
  checked_.clear();
  for (int r = 0; r < model_->checkpointCount(); ++r) {
    CheckpointPtr c = model_->checkpointAt(r);
    if (!c) continue;
    bool check = true;
    for (std::size_t i = 0; i < old.size(); ++i)
      if (old[i] == c) check = oldChecked[i];
    checkpoints_.push_back(c);
    checked_.push_back(check);
  }
  std::vector<std::string> paths;
  for (const auto& c : checkpoints_) paths.push_back(c->path().string());
  const auto labels = figures::model_labels(paths);
  const QSignalBlocker block(base_);
  base_->clear();
  int baseIndex = 0;
  for (std::size_t i = 0; i < checkpoints_.size(); ++i) {
    base_->addItem(QString::fromStdString(labels[i]));
    base_->setItemData(static_cast<int>(i), QString::fromStdString(paths[i]), Qt::ToolTipRole);
    if (checkpoints_[i] == oldBase) baseIndex = static_cast<int>(i);
  }
  base_->setCurrentIndex(baseIndex);
  menu_->clear();
  for (std::size_t i = 0; i < checkpoints_.size(); ++i) {
    QAction* a = menu_->addAction(QString::fromStdString(labels[i]));
    a->setCheckable(true);
    a->setToolTip(QString::fromStdString(paths[i]));
    connect(a, &QAction::toggled, this, [this, i](bool on) {
      if (i < checked_.size()) checked_[i] = on;
      updateState();
    });
  }
  updateState();
}

void MergeInputsBar::updateState() {
  const auto actions = menu_->actions();
  const int b = base_->currentIndex();
  int n = 0;
  for (int i = 0; i < actions.size(); ++i) {
    const QSignalBlocker block(actions[i]);
    actions[i]->setEnabled(i != b);
    actions[i]->setChecked(i != b && checked_[static_cast<std::size_t>(i)]);
    if (i != b && checked_[static_cast<std::size_t>(i)]) ++n;
  }
  fineTunes_->setText(tr("%n checked", nullptr, n));
  analyze_->setEnabled(b >= 0 && n >= 2);
  analyze_->setToolTip(n >= 2 ? tr("Compare the fine-tunes' task vectors on the worker pool")
                              : tr("Open a base and two or more fine-tunes of it (File > Open), then check them here"));
}

CheckpointPtr MergeInputsBar::base() const {
  const int b = base_->currentIndex();
  return b >= 0 && static_cast<std::size_t>(b) < checkpoints_.size() ? checkpoints_[static_cast<std::size_t>(b)]
                                                                     : nullptr;
}

std::vector<CheckpointPtr> MergeInputsBar::fineTunes() const {
  std::vector<CheckpointPtr> out;
  const int b = base_->currentIndex();
  for (std::size_t i = 0; i < checkpoints_.size(); ++i)
    if (static_cast<int>(i) != b && checked_[i]) out.push_back(checkpoints_[i]);
  // The order select() was given first (a loaded list is in load order, which varies).
  auto rank = [this](const CheckpointPtr& c) {
    const auto it = std::find(order_.begin(), order_.end(), c);
    return it - order_.begin();
  };
  std::stable_sort(out.begin(), out.end(), [&](const auto& x, const auto& y) { return rank(x) < rank(y); });
  return out;
}

double MergeInputsBar::topFraction() const { return top_->value() / 100.0; }

void MergeInputsBar::select(int baseRow, const std::vector<int>& fineTuneRows) {
  for (std::size_t i = 0; i < checked_.size(); ++i) checked_[i] = false;
  order_.clear();
  for (int r : fineTuneRows)
    if (r >= 0 && static_cast<std::size_t>(r) < checked_.size()) {
      checked_[static_cast<std::size_t>(r)] = true;
      order_.push_back(checkpoints_[static_cast<std::size_t>(r)]);
    }
  if (baseRow >= 0 && baseRow < base_->count()) base_->setCurrentIndex(baseRow);
  updateState();
}

}  // namespace paramscope::ui
