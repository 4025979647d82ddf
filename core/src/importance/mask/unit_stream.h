// Streaming over "units" (a whole model, a block, a tensor, one long row) built on the project's
// chunk loop, with progress that spans the several passes a selection makes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "jobs/chunk_stream.h"
#include "paramscope/jobs.h"
#include "paramscope/score_field.h"

namespace paramscope::mask {

/// Elements [first, first + count) of tensor `tensor` of a field.
struct UnitRange {
  std::size_t tensor;
  std::int64_t first, count;
};

/// A unit's ranges as the arrays of a chunk stream (array r = ranges[r]).
class RangeReader final : public ChunkReader {
 public:
  RangeReader(const ScoreField& field, std::vector<UnitRange> ranges);
  std::size_t count() const noexcept override { return ranges_.size(); }
  std::int64_t numel(std::size_t r) const noexcept override { return ranges_[r].count; }
  void read(std::size_t r, std::int64_t first, std::span<float> out) const override;
  void release(std::size_t r, std::int64_t first, std::int64_t n) const noexcept override;

  const ScoreField& field() const noexcept { return field_; }
  const UnitRange& range(std::size_t r) const { return ranges_[r]; }
  /// Unit position of the first element of range r (ranges follow each other).
  std::int64_t offset(std::size_t r) const { return offsets_[r]; }
  std::int64_t elements() const noexcept { return offsets_.back(); }

 private:
  const ScoreField& field_;
  std::vector<UnitRange> ranges_;
  std::vector<std::int64_t> offsets_;
};

/// Maps the progress of each pass onto one count for the whole job, so a bar moves forward once
/// across passes. The total is a plan that grows if more passes turn out to be needed.
class StagedProgress {
 public:
  StagedProgress(const JobControl& user, std::uint64_t planned_total) : user_(user), total_(planned_total) {}
  /// The control for the next pass over `elements` units. Keep it alive while the pass runs.
  JobControl pass(std::uint64_t elements);
  /// A planned pass over `elements` that turned out not to be needed: the bar moves past it.
  void skip(std::uint64_t elements);
  /// Takes back the last pass(elements) when it read nothing.
  void rewind(std::uint64_t elements) noexcept { done_ -= elements; }
  void throw_if_cancelled() const;

 private:
  const JobControl& user_;
  std::uint64_t done_ = 0, total_;
};

/// Float buffers lent to parallel work items and returned for reuse. Unlike thread_local
/// buffers they stay safe when a score field runs nested parallel work on the same thread.
class BufferPool {
 public:
  class Lease {
   public:
    Lease(BufferPool& pool, std::unique_ptr<std::vector<float>> buf) : pool_(pool), buf_(std::move(buf)) {}
    ~Lease() { pool_.put(std::move(buf_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    std::span<float> span(std::size_t n) {
      if (buf_->size() < n) buf_->resize(n);
      return {buf_->data(), n};
    }

   private:
    BufferPool& pool_;
    std::unique_ptr<std::vector<float>> buf_;
  };

  Lease get();

 private:
  void put(std::unique_ptr<std::vector<float>> buf);
  std::mutex mutex_;
  std::vector<std::unique_ptr<std::vector<float>>> free_;
};

/// Like stream_chunks, but only over the listed chunks of the plan (in parallel, any order).
void stream_chunk_list(const ChunkReader& reader, const ChunkPlan& plan, const std::vector<std::size_t>& chunks,
                       ThreadPool& pool, const JobControl& control, const std::function<void(const Chunk&)>& fn);

}  // namespace paramscope::mask
