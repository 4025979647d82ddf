// Streams tensors (or element scores) as float chunks on the worker pool: the loop every
// whole-model computation (statistics, importance, masks, comparisons) is built on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "paramscope/jobs.h"

namespace paramscope {

class Tensor;
class ScoreField;

/// What stream_chunks reads: a list of flat float arrays read by range.
class ChunkReader {
public:
  virtual ~ChunkReader() = default;
  virtual std::size_t count() const noexcept = 0;
  virtual std::int64_t numel(std::size_t i) const noexcept = 0;
  /// Thread-safe.
  virtual void read(std::size_t i, std::int64_t first, std::span<float> out) const = 0;
  /// Elements [first, first + n) of array i will not be read again soon.
  virtual void release(std::size_t /*i*/, std::int64_t /*first*/, std::int64_t /*n*/) const noexcept {}
};

/// Tensors' values as floats.
class TensorChunks final : public ChunkReader {
public:
  explicit TensorChunks(std::vector<const Tensor*> tensors) : tensors_(std::move(tensors)) {}
  std::size_t count() const noexcept override { return tensors_.size(); }
  std::int64_t numel(std::size_t i) const noexcept override;
  void read(std::size_t i, std::int64_t first, std::span<float> out) const override;
  void release(std::size_t i, std::int64_t first, std::int64_t n) const noexcept override;

private:
  std::vector<const Tensor*> tensors_;
};

/// A score field's element scores.
class ScoreChunks final : public ChunkReader {
public:
  explicit ScoreChunks(const ScoreField& field) : field_(field) {}
  std::size_t count() const noexcept override;
  std::int64_t numel(std::size_t i) const noexcept override;
  void read(std::size_t i, std::int64_t first, std::span<float> out) const override;
  void release(std::size_t i, std::int64_t first, std::int64_t n) const noexcept override;

private:
  const ScoreField& field_;
};

/// One chunk: elements [first, first + values.size()) of array `array`.
struct Chunk {
  std::size_t array;
  std::size_t index;  ///< position of the chunk in the whole stream (array by array, in order)
  std::int64_t first;
  std::span<const float> values;
};

/// Elements per chunk: a 256 KB float buffer that stays in L2.
inline constexpr std::int64_t kDefaultChunk = 1 << 16;

/// The chunk layout of a stream: which chunk indices belong to which array.
class ChunkPlan {
public:
  explicit ChunkPlan(const ChunkReader& reader, std::int64_t chunk_elems = kDefaultChunk);
  std::size_t size() const noexcept { return items_.size(); }
  std::uint64_t elements() const noexcept { return elements_; }
  /// Chunk indices [begin, end) of array i.
  std::pair<std::size_t, std::size_t> chunks_of(std::size_t i) const { return {first_chunk_[i], first_chunk_[i + 1]}; }
  /// The element range of chunk k: (array, first, count).
  struct Item {
    std::size_t array;
    std::int64_t first, count;
  };
  const Item& item(std::size_t k) const { return items_[k]; }

private:
  std::vector<Item> items_;
  std::vector<std::size_t> first_chunk_;
  std::uint64_t elements_ = 0;
};

/// Calls fn(chunk index) for every chunk of the plan in parallel on worker threads, releasing
/// input pages as stream_chunks does, for work that reads the inputs its own way.
/// throws Error(Cancelled) if control.cancel fires, and whatever fn throws.
void for_each_chunk(const ChunkReader& reader, const ChunkPlan& plan, ThreadPool& pool, const JobControl& control,
                    const std::function<void(std::size_t k)>& fn);

/// Reads every chunk of the plan in parallel and calls fn on worker threads, in any order (use
/// Chunk::index to store per-chunk results and reduce them in order afterwards, which keeps
/// results independent of scheduling). Memory stays bounded whatever the model size: one
/// buffer per worker, and input pages are released as arrays are finished. Progress counts
/// elements. throws Error(Cancelled) if control.cancel fires, and whatever read or fn throw.
void stream_chunks(const ChunkReader& reader, const ChunkPlan& plan, ThreadPool& pool, const JobControl& control,
                   const std::function<void(const Chunk&)>& fn);

}  // namespace paramscope
