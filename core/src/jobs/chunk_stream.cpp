#include "jobs/chunk_stream.h"

#include <algorithm>
#include <atomic>
#include <memory>

#include "paramscope/score_field.h"
#include "paramscope/tensor.h"

namespace paramscope {

std::int64_t TensorChunks::numel(std::size_t i) const noexcept {
  return tensors_[i]->numel();
}
void TensorChunks::read(std::size_t i, std::int64_t first, std::span<float> out) const {
  tensors_[i]->read_f32(first, out);
}
void TensorChunks::release(std::size_t i, std::int64_t first, std::int64_t n) const noexcept {
  tensors_[i]->release(first, n);
}

std::size_t ScoreChunks::count() const noexcept {
  return field_.size();
}
std::int64_t ScoreChunks::numel(std::size_t i) const noexcept {
  return field_.tensors()[i].numel;
}
void ScoreChunks::read(std::size_t i, std::int64_t first, std::span<float> out) const {
  field_.scores(i, first, out);
}
void ScoreChunks::release(std::size_t i, std::int64_t first, std::int64_t n) const noexcept {
  field_.release(i, first, n);
}

ChunkPlan::ChunkPlan(const ChunkReader& reader, std::int64_t chunk_elems) {
  const std::size_t n_arrays = reader.count();
  first_chunk_.reserve(n_arrays + 1);
  for (std::size_t a = 0; a < n_arrays; ++a) {
    first_chunk_.push_back(items_.size());
    const std::int64_t n = reader.numel(a);
    for (std::int64_t first = 0; first < n; first += chunk_elems)
      items_.push_back({a, first, std::min(chunk_elems, n - first)});
    elements_ += static_cast<std::uint64_t>(n);
  }
  first_chunk_.push_back(items_.size());
}

namespace {

/// Joins a thread's consecutive chunks into one release of up to kBatch elements: every release is
/// a madvise whose TLB shootdown interrupts all threads, and 64 Ki-element chunks made 100,000
/// of them over a 7B model.
class PendingRelease {
 public:
  explicit PendingRelease(const ChunkReader& reader) : reader_(reader) {}
  ~PendingRelease() { flush(); }
  PendingRelease(const PendingRelease&) = delete;
  PendingRelease& operator=(const PendingRelease&) = delete;

  void add(std::size_t array, std::int64_t first, std::int64_t n) noexcept {
    if (count_ > 0 && array == array_ && first == first_ + count_ && count_ < kBatch) {
      count_ += n;
      return;
    }
    flush();
    array_ = array;
    first_ = first;
    count_ = n;
  }
  /// The whole array is being released anyway.
  void drop(std::size_t array) noexcept {
    if (array == array_) count_ = 0;
  }
  void flush() noexcept {
    if (count_ > 0) reader_.release(array_, first_, count_);
    count_ = 0;
  }

 private:
  static constexpr std::int64_t kBatch = std::int64_t{1} << 22;
  const ChunkReader& reader_;
  std::size_t array_ = 0;
  std::int64_t first_ = 0, count_ = 0;
};

}  // namespace

void for_each_chunk(const ChunkReader& reader, const ChunkPlan& plan, ThreadPool& pool, const JobControl& control,
                    const std::function<void(std::size_t k)>& fn) {
  // Chunks release their own pages as they go (whole pages only); the pages they share with a
  // neighbour (and those the kernel mapped around a fault) go when the array's last chunk is done.
  const std::size_t n_arrays = reader.count();
  auto left = std::make_unique<std::atomic<std::size_t>[]>(n_arrays);
  for (std::size_t a = 0; a < n_arrays; ++a) {
    const auto [b, e] = plan.chunks_of(a);
    left[a].store(e - b, std::memory_order_relaxed);
  }
  ProgressTracker progress(control, plan.elements());
  pool.parallel_for(plan.size(), 1, [&](std::size_t begin, std::size_t end) {
    PendingRelease pending(reader);
    for (std::size_t k = begin; k < end; ++k) {
      const auto& it = plan.item(k);
      fn(k);
      pending.add(it.array, it.first, it.count);
      if (left[it.array].fetch_sub(1, std::memory_order_acq_rel) == 1) {
        pending.drop(it.array);
        reader.release(it.array, 0, reader.numel(it.array));
      }
      progress.advance(static_cast<std::uint64_t>(it.count));
    }
  });
  progress.finish();
}

void stream_chunks(const ChunkReader& reader, const ChunkPlan& plan, ThreadPool& pool, const JobControl& control,
                   const std::function<void(const Chunk&)>& fn) {
  std::int64_t largest = 0;
  for (std::size_t k = 0; k < plan.size(); ++k) largest = std::max(largest, plan.item(k).count);
  for_each_chunk(reader, plan, pool, control, [&](std::size_t k) {
    thread_local std::vector<float> buf;
    if (buf.size() < static_cast<std::size_t>(largest)) buf.resize(static_cast<std::size_t>(largest));
    const auto& it = plan.item(k);
    const std::span<float> values(buf.data(), static_cast<std::size_t>(it.count));
    reader.read(it.array, it.first, values);
    fn(Chunk{it.array, k, it.first, values});
  });
}

}  // namespace paramscope
