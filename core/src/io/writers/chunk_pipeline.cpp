#include <algorithm>

#include "io/writers/write_common.h"

namespace paramscope::detail {

ChunkPipeline::ChunkPipeline(Sink sink) : sink_(std::move(sink)) {}

ChunkPipeline::~ChunkPipeline() {
  for (auto& p : pending_)
    if (p.valid()) p.wait();  // an error is already on its way out
}

void ChunkPipeline::stream(const TensorToWrite& t, std::uint64_t size, std::uint64_t base) {
  for (std::uint64_t off = 0; off < size; off += kWriteChunk) {
    const auto n = static_cast<std::size_t>(std::min(kWriteChunk, size - off));
    const int b = next_;
    next_ ^= 1;
    if (pending_[b].valid()) pending_[b].get();  // the buffer is free again
    std::vector<std::byte>& buf = buf_[b];
    if (buf.size() < n) buf.resize(static_cast<std::size_t>(kWriteChunk));
    const std::span<std::byte> chunk(buf.data(), n);
    t.fill(off, chunk);
    // The sink sees one chunk at a time, in order: wait for the other buffer's write first.
    if (pending_[b ^ 1].valid()) pending_[b ^ 1].get();
    pending_[b] = std::async(std::launch::async, [this, at = base + off, chunk] { sink_(at, chunk); });
  }
}

void ChunkPipeline::finish() {
  const int last = next_ ^ 1;  // the most recent chunk; the other one has been waited for
  if (pending_[last].valid()) pending_[last].get();
  if (pending_[next_].valid()) pending_[next_].get();
}

}  // namespace paramscope::detail
