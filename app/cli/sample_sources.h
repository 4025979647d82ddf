// The data options of calibrate and eval: NPY / NPZ arrays or image folders, read as an engine
// SampleSet for the model's input.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "paramscope/calibration.h"
#include "paramscope/engine.h"

namespace paramscope::cli {

struct SampleOptions {
  std::string data;    ///< FOLDER (images), FILE.npy or FILE.npz
  std::string labels;  ///< FILE.npy of integer labels, or "predicted" (default: the NPZ's labels/label/y/targets)
  std::string input_name, output_name;
  std::string scores = "logits";
  std::int64_t batch = 0;  ///< 0: the command's default
  std::int64_t limit = 0;  ///< use only the first N samples
  // Image folders.
  std::string size;  ///< HxW; default: the model input's fixed size
  int channels = 0;  ///< default: the model input's
  float scale = 1.0f / 255.0f;
  std::vector<float> mean, std;
  bool nhwc = false;
};

/// Registers --labels, --input-name, --output-name, --scores, --batch, --limit and the image options.
void add_sample_options(CLI::App& cmd, SampleOptions& o);
/// Registers only --limit and the image options (--size, --channels, --scale, --mean, --std, --nhwc).
void add_image_options(CLI::App& cmd, SampleOptions& o);

/// Every sample o.data names, as one batch for the model input: an image file (PNG/JPEG) is a
/// batch of one, an NPY holding one sample (the input's rank minus the batch axis) too; folders,
/// NPY and NPZ files as open_samples reads them (up to --limit). throws as open_samples.
Array read_samples(const SampleOptions& o, const engine::Model& model);

/// The samples and labels options.data names, converted to the model input's type (float data
/// to a float input; integer data is refused for a float input, since images need scaling).
/// throws Error(Usage) for options that do not fit, and what the readers throw.
engine::SampleSet open_samples(const SampleOptions& o, const engine::Model& model);

/// The classifier options (input, output, score kind, batch) of o.
engine::ClassifierOptions classifier_options(const SampleOptions& o, std::int64_t default_batch);

}  // namespace paramscope::cli
