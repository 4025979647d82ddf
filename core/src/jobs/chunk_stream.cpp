#include "jobs/chunk_stream.h"

#include <algorithm>
#include <atomic>
#include <memory>

namespace paramscope {

ChunkPlan::ChunkPlan(std::span<const Tensor* const> tensors, std::int64_t chunk_elems) {
  first_chunk_.reserve(tensors.size() + 1);
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    first_chunk_.push_back(items_.size());
    const std::int64_t n = tensors[t]->numel();
    for (std::int64_t first = 0; first < n; first += chunk_elems)
      items_.push_back({t, first, std::min(chunk_elems, n - first)});
    elements_ += static_cast<std::uint64_t>(n);
  }
  first_chunk_.push_back(items_.size());
}

void stream_chunks(std::span<const Tensor* const> tensors, const ChunkPlan& plan, ThreadPool& pool,
                   const JobControl& control, const std::function<void(const Chunk&)>& fn) {
  // Chunks release their own pages as they go (whole pages only); the pages they share with a
  // neighbour go when the last chunk of the tensor is done.
  auto left = std::make_unique<std::atomic<std::size_t>[]>(tensors.size());
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const auto [b, e] = plan.chunks_of(t);
    left[t].store(e - b, std::memory_order_relaxed);
  }
  ProgressTracker progress(control, plan.elements());
  std::int64_t largest = 0;
  for (const auto& it : plan.items_) largest = std::max(largest, it.count);
  pool.parallel_for(plan.size(), 1, [&](std::size_t begin, std::size_t end) {
    thread_local std::vector<float> buf;
    if (buf.size() < static_cast<std::size_t>(largest)) buf.resize(static_cast<std::size_t>(largest));
    for (std::size_t k = begin; k < end; ++k) {
      const auto& it = plan.items_[k];
      const Tensor& t = *tensors[it.tensor];
      const std::span<float> values(buf.data(), static_cast<std::size_t>(it.count));
      t.read_f32(it.first, values);
      t.release(it.first, it.count);
      fn(Chunk{it.tensor, k, it.first, values});
      if (left[it.tensor].fetch_sub(1, std::memory_order_acq_rel) == 1) t.release(0, t.numel());
      progress.advance(static_cast<std::uint64_t>(it.count));
    }
  });
  progress.finish();
}

}  // namespace paramscope
