// The format readers behind open_checkpoint(). Each parses headers only and validates every
// field before trusting it; tensor values stay in the mapped file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

#include "paramscope/checkpoint.h"

namespace paramscope {
class MappedFile;
}

namespace paramscope::io {

/// A .safetensors file, an *.index.json of shards, or a folder holding either.
Checkpoint open_safetensors(const std::filesystem::path& path);
/// Parses one safetensors file already mapped (also the fuzzing entry point).
Checkpoint parse_safetensors(std::shared_ptr<const MappedFile> file);

/// torch.save output: zip (torch >= 1.6) or legacy pickle; sharded pytorch_model.bin.index.json.
Checkpoint open_pytorch(const std::filesystem::path& path);
Checkpoint parse_pytorch(std::shared_ptr<const MappedFile> file);

/// Keras 2 .h5 (full model or weights) and Keras 3 .weights.h5.
Checkpoint open_keras(const std::filesystem::path& path);

/// ONNX model: initializers and Constant nodes (external data resolved beside the model).
Checkpoint open_onnx(const std::filesystem::path& path);
/// Parses an ONNX model already mapped. External data resolves against the folder of
/// file->path(), so a buffer named "/nonexistent/x.onnx" can never reach other files.
Checkpoint parse_onnx(std::shared_ptr<const MappedFile> file);

/// GGUF v2/v3.
Checkpoint open_gguf(const std::filesystem::path& path);
Checkpoint parse_gguf(std::shared_ptr<const MappedFile> file);

}  // namespace paramscope::io
