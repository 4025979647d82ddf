// The Attributions tab's bar: the ONNX model and the input files (paths only: the dashboard's jobs
// read them), the sample, the class (from the model's top predictions), the methods and their
// key options, Compute and Stop.
#pragma once

#include <array>
#include <vector>

#include <QStringList>
#include <QWidget>

#include "attribution_job.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace paramscope::ui {

class AttributionInputsBar : public QWidget {
  Q_OBJECT

 public:
  explicit AttributionInputsBar(QWidget* parent = nullptr);

  /// Shows the files chosen (no signal).
  void setFiles(const QString& model, const QStringList& inputs);
  /// Lists the samples of the inputs ("inputs.npy #0", ...) and selects the first.
  void setSamples(const QStringList& labels);
  int sample() const;
  /// Fills the class combo with predictions, best first ("3 (p=0.998)") and selects the best.
  void setPredictions(const std::vector<Prediction>& predictions);
  /// The class chosen; -1 before any prediction.
  std::int64_t classIndex() const;

  std::vector<AttributionMethod> methods() const;
  void setMethods(const std::vector<AttributionMethod>& methods);
  AttributionSettings settings() const;
  /// Compute enabled (a model, a sample and a class) and Stop enabled (work running).
  void setRunning(bool running);

  QPushButton* modelButton() const noexcept { return model_; }
  QPushButton* inputsButton() const noexcept { return inputs_; }
  QComboBox* sampleBox() const noexcept { return sample_; }
  QComboBox* classBox() const noexcept { return class_; }
  QPushButton* computeButton() const noexcept { return compute_; }
  QPushButton* stopButton() const noexcept { return stop_; }
  QCheckBox* methodBox(AttributionMethod m) const noexcept { return methods_[static_cast<std::size_t>(m)]; }
  QSpinBox* masksBox() const noexcept { return masks_; }

 signals:
  void modelChosen(const QString& path);
  void inputsChosen(const QStringList& paths);
  void sampleChanged(int sample);
  void computeRequested();
  void stopRequested();

 private:
  void updateState();

  QPushButton* model_;
  QPushButton* inputs_;
  QComboBox* sample_;
  QComboBox* class_;
  std::array<QCheckBox*, kAttributionMethodCount> methods_{};
  QSpinBox* masks_;
  QSpinBox* cells_;
  QDoubleSpinBox* p_;
  QComboBox* baseline_;
  QSpinBox* steps_;
  QPushButton* compute_;
  QPushButton* stop_;
  bool running_ = false;
};

}  // namespace paramscope::ui
