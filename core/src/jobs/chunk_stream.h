// Streams tensors as float chunks on the worker pool: the loop every whole-model computation
// (statistics, importance, masks) is built on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "paramscope/jobs.h"
#include "paramscope/tensor.h"

namespace paramscope {

/// One chunk: elements [first, first + values.size()) of tensors[tensor].
struct Chunk {
  std::size_t tensor;
  std::size_t index;  ///< position of the chunk in the whole stream (tensor by tensor, in order)
  std::int64_t first;
  std::span<const float> values;
};

/// The chunk layout of a stream: which chunk indices belong to which tensor.
class ChunkPlan {
public:
  ChunkPlan(std::span<const Tensor* const> tensors, std::int64_t chunk_elems);
  std::size_t size() const noexcept { return items_.size(); }
  std::uint64_t elements() const noexcept { return elements_; }
  /// Chunk indices [begin, end) of tensor t.
  std::pair<std::size_t, std::size_t> chunks_of(std::size_t t) const { return {first_chunk_[t], first_chunk_[t + 1]}; }

private:
  friend void stream_chunks(std::span<const Tensor* const>, const ChunkPlan&, ThreadPool&, const JobControl&,
                            const std::function<void(const Chunk&)>&);
  struct Item {
    std::size_t tensor;
    std::int64_t first, count;
  };
  std::vector<Item> items_;
  std::vector<std::size_t> first_chunk_;
  std::uint64_t elements_ = 0;
};

/// Reads every chunk of the plan in parallel and calls fn on worker threads, in any order (use
/// Chunk::index to store per-chunk results and reduce them in order afterwards, which keeps
/// results independent of scheduling). Memory stays bounded whatever the model size: one
/// buffer per worker, and mapped pages are released as tensors are finished. Progress counts
/// elements. throws Error(Cancelled) if control.cancel fires, and whatever read_f32 or fn throw.
void stream_chunks(std::span<const Tensor* const> tensors, const ChunkPlan& plan, ThreadPool& pool,
                   const JobControl& control, const std::function<void(const Chunk&)>& fn);

/// Elements per chunk: a 256 KB float buffer that stays in L2.
inline constexpr std::int64_t kDefaultChunk = 1 << 16;

}  // namespace paramscope
