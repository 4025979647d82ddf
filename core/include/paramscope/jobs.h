// The worker pool, progress reporting and cancellation shared by every long computation.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace paramscope {

/// Set from any thread (a Cancel button, SIGINT); work polls it between chunks.
class CancelToken {
public:
  void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }
  /// throws Error(Cancelled) if cancel() was called.
  void throw_if_cancelled() const;

private:
  std::atomic<bool> cancelled_{false};
};

/// Called with (units done, units total) from worker threads, at most every few milliseconds.
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// What a job gets besides its inputs. Both members may be empty.
struct JobControl {
  const CancelToken* cancel = nullptr;
  ProgressFn progress;
};

/// A fixed set of worker threads (oneTBB arena). Work submitted from different threads shares
/// the same workers; nested parallelism is allowed.
class ThreadPool {
public:
  /// threads <= 0: one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const noexcept;

  /// Calls body(begin, end) on sub-ranges of [0, n) of about grain items, in parallel, and
  /// returns when all are done. An exception thrown by body is rethrown here (the first one).
  void parallel_for(std::size_t n, std::size_t grain,
                    const std::function<void(std::size_t begin, std::size_t end)>& body);

  /// The process-wide pool, sized from PARAMSCOPE_THREADS or the hardware.
  static ThreadPool& global();

  /// From now on the pool's worker threads run at background priority (see
  /// lower_thread_priority()), so that an interactive thread keeps a core while jobs run.
  void run_workers_in_background();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Lowers the calling thread's scheduling priority for the rest of its life (Linux: SCHED_IDLE, so
/// that it runs only on cores no normal thread wants; nice 10 where that policy is refused or
/// PARAMSCOPE_JOB_PRIORITY=nice; elsewhere nothing). For threads that run background jobs in an interactive program; an
/// unprivileged thread cannot raise it again.
void lower_thread_priority() noexcept;

/// Thread-safe progress counter that rate-limits calls to a ProgressFn and polls cancellation.
class ProgressTracker {
public:
  ProgressTracker(const JobControl& control, std::uint64_t total);
  /// Adds done units; throws Error(Cancelled) if the job was cancelled.
  void advance(std::uint64_t units);
  /// Reports the final count (always delivered, not rate-limited).
  void finish();

private:
  const JobControl& control_;
  std::uint64_t total_;
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::int64_t> last_report_ns_{0};
};

}  // namespace paramscope
