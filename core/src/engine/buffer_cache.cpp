#include "engine/buffer_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <new>
#include <vector>

namespace paramscope::engine {
namespace {

class BufferCache {
 public:
  static BufferCache& instance() {
    static auto* c = new BufferCache;  // never destroyed: buffers may be freed during exit
    return *c;
  }

  // A cached block of at least `bytes` and at most an eighth more, or nullptr.
  std::byte* take(std::size_t bytes, std::size_t& capacity) {
    const std::lock_guard lock(mutex_);
    auto best = blocks_.end();
    for (auto it = blocks_.begin(); it != blocks_.end(); ++it)
      if (it->bytes >= bytes && it->bytes <= bytes + bytes / 8 && (best == blocks_.end() || it->bytes < best->bytes))
        best = it;
    if (best == blocks_.end()) return nullptr;
    std::byte* p = best->data;
    capacity = best->bytes;
    held_ -= best->bytes;
    blocks_.erase(best);
    return p;
  }

  void give(std::byte* p, std::size_t bytes) {
    if (bytes < kCachedMin || bytes > budget_) {
      release(p);
      return;
    }
    std::vector<std::byte*> dropped;
    {
      const std::lock_guard lock(mutex_);
      while (held_ + bytes > budget_) {
        dropped.push_back(blocks_.front().data);
        held_ -= blocks_.front().bytes;
        blocks_.pop_front();
      }
      blocks_.push_back({p, bytes});
      held_ += bytes;
    }
    for (std::byte* q : dropped) release(q);
  }

  std::size_t held() {
    const std::lock_guard lock(mutex_);
    return held_;
  }

  static void release(std::byte* p) { ::operator delete (p, std::align_val_t{kBufferAlign}); }

  static constexpr std::size_t kCachedMin = std::size_t{64} << 10;

 private:
  struct Block {
    std::byte* data;
    std::size_t bytes;
  };
  // An eighth of physical memory, at most 1 GiB: MobileNetV2 at batch 8 cycles through about
  // 400 MB of activations per run.
  BufferCache() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    const std::size_t phys =
        pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : std::size_t{4} << 30;
    budget_ = std::min(phys / 8, std::size_t{1} << 30);
#if defined(__SANITIZE_ADDRESS__)
    budget_ = 0;  // every buffer really freed, so that AddressSanitizer sees a use after free
#endif
  }
  std::mutex mutex_;
  std::list<Block> blocks_;  // oldest first
  std::size_t held_ = 0, budget_ = 0;
};

// Large blocks are rounded to whole pages so that nearby sizes share cached blocks.
std::size_t rounded(std::size_t bytes) {
  const std::size_t unit = bytes >= BufferCache::kCachedMin ? std::size_t{4096} : kBufferAlign;
  return bytes == 0 ? kBufferAlign : (bytes + unit - 1) / unit * unit;
}

}  // namespace

std::shared_ptr<std::byte[]> allocate_buffer(std::size_t bytes, bool zero) {
  const std::size_t n = rounded(bytes);
  std::size_t capacity = n;
  std::byte* p = n >= BufferCache::kCachedMin ? BufferCache::instance().take(n, capacity) : nullptr;
  if (!p) {
    p = static_cast<std::byte*>(::operator new (n, std::align_val_t{kBufferAlign}));
    capacity = n;
  }
  if (zero) std::memset(p, 0, n);
  return {p, [capacity](std::byte* q) { BufferCache::instance().give(q, capacity); }};
}

std::size_t cached_buffer_bytes() {
  return BufferCache::instance().held();
}

}  // namespace paramscope::engine
