// Running an ONNX classifier over a data set: calibration statistics for the data-driven
// importance criteria (docs/statistics.md) and accuracy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/engine.h"
#include "paramscope/jobs.h"

namespace paramscope::engine {

/// A data set read in batches: samples [first, first + n) stacked along a new first axis, of the
/// type and per-sample shape the model's input takes.
struct SampleSet {
  std::int64_t count = 0;
  std::function<Array(std::int64_t first, std::int64_t n)> read;
  /// I64, [count] for logits [batch, classes], or [count, ...] matching the logits without their
  /// last (class) axis; a negative label is ignored (as torch's ignore_index). nullopt: the model's
  /// own prediction is the label.
  std::optional<Array> labels;
  std::string source;  ///< where the samples come from, for messages ("digits.npy")
};

/// What the model output holds along its last axis.
enum class OutputKind : std::uint8_t { Logits, Probabilities, LogProbabilities };

struct ClassifierOptions {
  std::string input;   ///< the model input the samples feed; "" = the model's only input
  std::string output;  ///< the output with the class scores; "" = the first
  OutputKind kind = OutputKind::Logits;
  std::int64_t batch = 1;  ///< samples per forward (and backward) pass
};

struct CalibrationOptions : ClassifierOptions {
  bool activations = true;  ///< <weight>@act_l2 for Gemm, MatMul, Conv and ConvTranspose weights
  bool gradients = true;    ///< <weight>@grad and <weight>@grad_sq
  /// Which weights get statistics; null: every float weight of Gemm, MatMul, Conv, ConvTranspose,
  /// BatchNormalization and LayerNormalization.
  std::function<bool(const std::string& weight)> select;
};

struct CalibrationResult {
  std::map<std::string, Array> stats;  ///< "<weight>@act_l2" (F32), "@grad", "@grad_sq" (F32)
  std::int64_t samples = 0;            ///< samples run
  std::int64_t batches = 0;            ///< gradient terms summed (the file's "samples" metadata)
  double mean_loss = 0;                ///< cross-entropy per labelled position
  bool own_predictions = false;        ///< labels were the model's own predictions
};

/// Runs the model over the samples: per weight, the L2 norm of each input feature of the node
/// that reads it over every sample (and position), the gradient of the mean cross-entropy of
/// each batch summed over batches, and its square summed over batches. Batches run in parallel
/// on the pool; the sums are taken in batch order, so results do not depend on the thread count.
/// throws Error(Usage) for an unknown input or output, labels that do not fit the output or a
/// class out of range (naming the sample), no weight selected; what Model::run and
/// Pass::backward throw; Error(Cancelled). Progress is counted in samples.
CalibrationResult calibrate(const Model& model, const SampleSet& data, const CalibrationOptions& options,
                            const JobControl& control = {});

/// Writes the statistics as safetensors with metadata "samples" (the gradient terms summed, which
/// Fisher and OBD divide by), "calibration_samples", "batch", "loss" and "model".
/// throws Error(Io) if writing fails.
void write_statistics(const std::filesystem::path& path, const CalibrationResult& result, const Model& model,
                      const CalibrationOptions& options);

struct EvalResult {
  std::int64_t samples = 0;
  std::int64_t positions = 0;  ///< labelled positions (samples, for [batch, classes] outputs)
  std::int64_t correct = 0;    ///< argmax equal to the label
  std::int64_t top5 = 0;       ///< label among the five highest scores
  double mean_loss = 0;        ///< cross-entropy per labelled position
  std::vector<std::vector<std::int64_t>> confusion;  ///< [label][predicted], when classes <= 100
};

/// Accuracy of the model on labelled samples. throws as calibrate, and Error(Usage) if the set
/// has no labels.
EvalResult evaluate(const Model& model, const SampleSet& data, const ClassifierOptions& options,
                    const JobControl& control = {});

}  // namespace paramscope::engine
