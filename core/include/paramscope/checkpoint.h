// A checkpoint: named tensors from one file or a folder of shards, plus what the format says.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "paramscope/hierarchy.h"
#include "paramscope/tensor.h"

namespace paramscope {

class Checkpoint {
public:
  Checkpoint() = default;

  /// The path the user gave: a file or a folder.
  const std::filesystem::path& path() const noexcept { return path_; }
  /// "safetensors", "pytorch", "pytorch-legacy", "keras-h5", "keras3-weights", "hdf5" (any other
  /// HDF5 file: every numeric dataset), "onnx", "gguf".
  const std::string& format() const noexcept { return format_; }
  /// Every file the tensors come from (shards, external data), in order.
  const std::vector<std::filesystem::path>& files() const noexcept { return files_; }

  /// The model's tensors (parameters and buffers), in the file's order.
  const std::vector<Tensor>& tensors() const noexcept { return tensors_; }
  /// Tensors that are not part of the model (optimizer state, EMA copies and other trainer state
  /// beside a model's state dict): listed, never counted as parameters.
  const std::vector<Tensor>& optimizer_tensors() const noexcept { return optimizer_; }

  /// nullptr if there is no model tensor of that name.
  const Tensor* find(std::string_view name) const noexcept;
  /// throws Error(Usage) if there is no model tensor of that name.
  const Tensor& at(std::string_view name) const;

  /// Sum of numel() over tensors() (parameters and buffers, not optimizer state).
  std::uint64_t parameter_count() const noexcept;
  /// Sum of nbytes() over tensors().
  std::uint64_t byte_count() const noexcept;

  /// Format metadata in file order: safetensors __metadata__, GGUF key/values (long arrays
  /// summarised), Keras attributes, ONNX producer and opsets.
  const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return metadata_; }
  /// Hugging Face config.json text found beside the weights, or "".
  const std::string& config_json() const noexcept { return config_json_; }

  const Hierarchy& hierarchy() const noexcept { return hierarchy_; }

private:
  friend class CheckpointBuilder;
  std::filesystem::path path_;
  std::string format_;
  std::vector<std::filesystem::path> files_;
  std::vector<Tensor> tensors_;
  std::vector<Tensor> optimizer_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::string config_json_;
  Hierarchy hierarchy_;
  std::vector<std::pair<std::string_view, std::size_t>> by_name_;  // sorted, for find()
};

/// Opens a checkpoint, reading headers only; the tensors' values stay in the mapped files.
/// Accepts safetensors files, sharded folders (*.safetensors.index.json, or the index file itself),
/// Hugging Face model folders, PyTorch .pt/.pth/.bin (zip and legacy), Keras .h5 / .weights.h5,
/// ONNX and GGUF. The format is recognised from the content, not the extension.
/// throws Error(Io) if a file cannot be opened, Error(BadInput) if it is malformed,
/// Error(Unsupported) if it is a format or feature ParamScope does not read.
Checkpoint open_checkpoint(const std::filesystem::path& path);

}  // namespace paramscope
