#include "importance/mask/unit_stream.h"

#include <algorithm>

namespace paramscope::mask {

RangeReader::RangeReader(const ScoreField& field, std::vector<UnitRange> ranges)
    : field_(field), ranges_(std::move(ranges)) {
  offsets_.reserve(ranges_.size() + 1);
  std::int64_t at = 0;
  for (const auto& r : ranges_) {
    offsets_.push_back(at);
    at += r.count;
  }
  offsets_.push_back(at);
}

void RangeReader::read(std::size_t r, std::int64_t first, std::span<float> out) const {
  field_.scores(ranges_[r].tensor, ranges_[r].first + first, out);
}

void RangeReader::release(std::size_t r, std::int64_t first, std::int64_t n) const noexcept {
  field_.release(ranges_[r].tensor, ranges_[r].first + first, n);
}

JobControl StagedProgress::pass(std::uint64_t elements) {
  const std::uint64_t base = done_;
  done_ += elements;
  total_ = std::max(total_, done_);
  JobControl c{user_.cancel, {}};
  if (user_.progress)
    c.progress = [this, base](std::uint64_t done, std::uint64_t) { user_.progress(base + done, total_); };
  return c;
}

void StagedProgress::skip(std::uint64_t elements) {
  const JobControl c = pass(elements);
  if (c.progress) c.progress(elements, elements);
}

void StagedProgress::throw_if_cancelled() const {
  if (user_.cancel) user_.cancel->throw_if_cancelled();
}

BufferPool::Lease BufferPool::get() {
  std::unique_ptr<std::vector<float>> buf;
  {
    const std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      buf = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!buf) buf = std::make_unique<std::vector<float>>();
  return Lease(*this, std::move(buf));
}

void BufferPool::put(std::unique_ptr<std::vector<float>> buf) {
  const std::lock_guard lock(mutex_);
  free_.push_back(std::move(buf));
}

void stream_chunk_list(const ChunkReader& reader, const ChunkPlan& plan, const std::vector<std::size_t>& chunks,
                       ThreadPool& pool, const JobControl& control, const std::function<void(const Chunk&)>& fn) {
  std::uint64_t total = 0;
  for (std::size_t k : chunks) total += static_cast<std::uint64_t>(plan.item(k).count);
  ProgressTracker progress(control, total);
  BufferPool buffers;
  pool.parallel_for(chunks.size(), 1, [&](std::size_t begin, std::size_t end) {
    auto buf = buffers.get();
    for (std::size_t c = begin; c < end; ++c) {
      const std::size_t k = chunks[c];
      const auto& it = plan.item(k);
      const std::span<float> values = buf.span(static_cast<std::size_t>(it.count));
      reader.read(it.array, it.first, values);
      reader.release(it.array, it.first, it.count);
      fn(Chunk{it.array, k, it.first, values});
      progress.advance(static_cast<std::uint64_t>(it.count));
    }
  });
  progress.finish();
}

}  // namespace paramscope::mask
