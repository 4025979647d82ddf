// Pieces shared by the writers.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <span>
#include <string>
#include <vector>

#include "paramscope/error.h"
#include "paramscope/writers.h"

namespace paramscope::detail {

/// Bytes per chunk handed to a ByteFiller: a multiple of every element size.
inline constexpr std::uint64_t kWriteChunk = 8u << 20;

/// Checks a tensor can be written as plain data and returns its size in bytes.
/// throws Error(Usage) if the dtype is a block type or the shape is invalid.
std::uint64_t checked_plain_size(const TensorToWrite& t, const std::string& where);

/// Writes tensors' bytes chunk by chunk: each chunk is filled on the calling thread (fillers use
/// the worker pool) while the one before it is handed to the sink on another thread, so that
/// computing bytes and copying them into the page cache overlap. The sink sees chunks in order,
/// one at a time.
class ChunkPipeline {
 public:
  using Sink = std::function<void(std::uint64_t offset, std::span<const std::byte> bytes)>;
  explicit ChunkPipeline(Sink sink);
  ~ChunkPipeline();
  ChunkPipeline(const ChunkPipeline&) = delete;
  ChunkPipeline& operator=(const ChunkPipeline&) = delete;

  /// Calls t.fill over the whole tensor in chunks of at most kWriteChunk bytes and passes them
  /// on at base + offset. throws what fill or an earlier sink call threw.
  void stream(const TensorToWrite& t, std::uint64_t size, std::uint64_t base);
  /// Waits for the last chunk. throws what the sink threw.
  void finish();

 private:
  Sink sink_;
  std::vector<std::byte> buf_[2];
  int next_ = 0;
  std::future<void> pending_[2];
};

}  // namespace paramscope::detail
