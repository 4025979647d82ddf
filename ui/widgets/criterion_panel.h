// The Importance dock: what to compute (criterion, granularity, reduction, and the base
// checkpoint or statistics file when the criterion needs one). Compute asks for it; the main
// window starts the job.
#pragma once

#include <QDockWidget>
#include <QMetaType>
#include <QString>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace paramscope::ui {

struct ComputeRequest {
  QString criterion;
  QString granularity;  ///< neuron, column, head, tensor, block
  QString reduction;    ///< sum, mean, max, l2
  QString base;         ///< path, criteria that need a base
  QString stats;        ///< path, data-driven criteria

  /// "magnitude · l2 per neuron"
  QString label() const;
};

class CriterionPanel : public QDockWidget {
  Q_OBJECT

public:
  explicit CriterionPanel(QWidget* parent = nullptr);

  ComputeRequest request() const;
  /// Selects a criterion, granularity and reduction by name (unknown names are ignored).
  void setRequest(const ComputeRequest& r);
  /// Compute is possible only with a checkpoint shown.
  void setCheckpointAvailable(bool available);

signals:
  void computeRequested(const paramscope::ui::ComputeRequest& request);
  /// The criterion, or its base checkpoint or statistics file, changed (views that show element
  /// scores follow it without waiting for Compute).
  void requestChanged();

private:
  void criterionChanged();
  void browse(QLineEdit* edit, const QString& title);

  QComboBox* criterion_;
  QLabel* formula_;
  QComboBox* granularity_;
  QComboBox* reduction_;
  QLineEdit* base_;
  QLineEdit* stats_;
  QPushButton* baseBrowse_;
  QPushButton* statsBrowse_;
  QPushButton* compute_;
  bool available_ = false;
};

}  // namespace paramscope::ui

Q_DECLARE_METATYPE(paramscope::ui::ComputeRequest)
