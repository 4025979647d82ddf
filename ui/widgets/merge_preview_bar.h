// The merge dashboard's second row: the tensor whose element maps are shown and the merge method
// previewed with its density and seed.
#pragma once

#include <string>
#include <vector>

#include <QWidget>

#include "paramscope/merge.h"

class QComboBox;
class QDoubleSpinBox;
class QPushButton;
class QSpinBox;

namespace paramscope::ui {

class MergePreviewBar : public QWidget {
  Q_OBJECT

public:
  explicit MergePreviewBar(QWidget* parent = nullptr);

  /// The tensors to choose from (the analysed ones, in order); keeps the current one if listed.
  void setTensors(const std::vector<std::string>& names);
  std::string tensor() const;
  /// Selects a tensor by name; false if it is not listed.
  bool selectTensor(const std::string& name);
  /// The previewed method with mergekit's defaults and the chosen seed.
  paramscope::MergeParams params() const;
  double density() const;
  QPushButton* previewButton() const noexcept { return preview_; }

signals:
  void previewRequested();

private:
  QComboBox* tensor_;
  QComboBox* method_;
  QDoubleSpinBox* density_;
  QSpinBox* seed_;
  QPushButton* preview_;
};

}  // namespace paramscope::ui
