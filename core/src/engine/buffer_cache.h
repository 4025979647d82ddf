// The memory behind arrays. Freed buffers from 64 KiB on are kept for reuse (oldest dropped
// first beyond a budget): a model run frees and allocates the same activation sizes node after
// node and run after run, and without reuse each large buffer is mapped fresh, faulted in page
// by page, zeroed by the kernel and unmapped again (a fifth of MobileNetV2's forward time at
// batch 8). Under AddressSanitizer nothing is kept, so that a use after free is still seen.
#pragma once

#include <cstddef>
#include <memory>

namespace paramscope::engine {

/// Buffers are aligned to this (whole cache lines, and enough for any SIMD load).
inline constexpr std::size_t kBufferAlign = 64;

/// A buffer of at least `bytes` (one of kBufferAlign bytes for 0), zero-filled unless `zero` is
/// false (then its contents are whatever a reused buffer held). throws std::bad_alloc.
std::shared_ptr<std::byte[]> allocate_buffer(std::size_t bytes, bool zero);

/// Bytes held for reuse now (for tests and diagnostics).
std::size_t cached_buffer_bytes();

}  // namespace paramscope::engine
