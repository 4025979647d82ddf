// Who runs OpenBLAS, and on how many threads. OpenBLAS's thread count is process-wide, so callers
// that run on the worker pool (the engine's matrix products, small Gram matrices) share the gate
// and run concurrently, each on one OpenBLAS thread, while one large problem takes the gate alone
// and gets every OpenBLAS thread.
#pragma once

#include <mutex>
#include <shared_mutex>

namespace paramscope::blas {

/// Held around OpenBLAS calls made from one of many threads: OpenBLAS runs on the calling
/// thread only. Waits while an AllThreads is held.
class OneThread {
 public:
  OneThread();
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  std::shared_lock<std::shared_mutex> lock_;
};

/// Exclusive use of OpenBLAS with all its threads, for one large problem.
class AllThreads {
 public:
  AllThreads();
  ~AllThreads();
  AllThreads(const AllThreads&) = delete;
  AllThreads& operator=(const AllThreads&) = delete;

 private:
  std::unique_lock<std::shared_mutex> lock_;
};

}  // namespace paramscope::blas
