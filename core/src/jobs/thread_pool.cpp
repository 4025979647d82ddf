#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <tbb/task_scheduler_observer.h>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string_view>

#include "paramscope/error.h"
#include "paramscope/jobs.h"

namespace paramscope {

void CancelToken::throw_if_cancelled() const {
  if (cancelled()) throw Error(Error::Kind::Cancelled, "cancelled");
}

void lower_thread_priority() noexcept {
#if defined(__linux__)
  // SCHED_IDLE rather than a nice value alone: the scheduler counts a core that runs only idle-policy
  // threads as free, so a woken GUI or renderer thread (llvmpipe splits a frame over several)
  // gets a core at once instead of queueing behind the workers on the core that woke it.
  // Scheduling attributes belong to the thread (its id), not the whole process.
  // PARAMSCOPE_JOB_PRIORITY=nice keeps a share of the CPU beside other busy programs (a training
  // run), at the price of GUI stalls on software OpenGL.
  const auto tid = static_cast<pid_t>(::syscall(SYS_gettid));
  const char* choice = std::getenv("PARAMSCOPE_JOB_PRIORITY");
  const sched_param param{};
  if ((!choice || std::string_view(choice) != "nice") && ::sched_setscheduler(tid, SCHED_IDLE, &param) == 0) return;
  constexpr int kBackgroundNice = 10;  // kernels without SCHED_IDLE
  if (::getpriority(PRIO_PROCESS, static_cast<id_t>(tid)) < kBackgroundNice)
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kBackgroundNice);
#endif
}

namespace {
// Lowers each worker thread as it joins the arena (the thread that submitted the work keeps its own).
class BackgroundWorkers final : public tbb::task_scheduler_observer {
 public:
  explicit BackgroundWorkers(tbb::task_arena& arena) : tbb::task_scheduler_observer(arena) { observe(true); }
  ~BackgroundWorkers() override { observe(false); }
  BackgroundWorkers(const BackgroundWorkers&) = delete;
  BackgroundWorkers& operator=(const BackgroundWorkers&) = delete;
  void on_scheduler_entry(bool is_worker) override {
    if (is_worker) lower_thread_priority();
  }
};
}  // namespace

struct ThreadPool::Impl {
  explicit Impl(int n) : arena(n) {}
  tbb::task_arena arena;
  std::unique_ptr<BackgroundWorkers> background;
  std::mutex mutex;
};

void ThreadPool::run_workers_in_background() {
  const std::lock_guard lock(impl_->mutex);
  if (!impl_->background) impl_->background = std::make_unique<BackgroundWorkers>(impl_->arena);
}

ThreadPool::ThreadPool(int threads)
    : impl_(std::make_unique<Impl>(threads > 0 ? threads : tbb::this_task_arena::max_concurrency())) {}
ThreadPool::~ThreadPool() = default;

int ThreadPool::threads() const noexcept {
  return impl_->arena.max_concurrency();
}

void ThreadPool::parallel_for(std::size_t n, std::size_t grain,
                              const std::function<void(std::size_t, std::size_t)>& body) {
  if (n == 0) return;
  // oneTBB cancels the remaining work and rethrows the first exception in the calling thread.
  impl_->arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, grain > 0 ? grain : 1),
                      [&](const tbb::blocked_range<std::size_t>& r) { body(r.begin(), r.end()); });
  });
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool([] {
    const char* env = std::getenv("PARAMSCOPE_THREADS");
    return env ? std::atoi(env) : 0;
  }());
  return pool;
}

namespace {
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

ProgressTracker::ProgressTracker(const JobControl& control, std::uint64_t total) : control_(control), total_(total) {
  if (control_.progress) control_.progress(0, total_);
}

void ProgressTracker::advance(std::uint64_t units) {
  const std::uint64_t done = done_.fetch_add(units, std::memory_order_relaxed) + units;
  if (control_.cancel) control_.cancel->throw_if_cancelled();
  if (!control_.progress) return;
  // At most one report per 50 ms, from whichever thread wins the exchange.
  const std::int64_t now = now_ns();
  std::int64_t last = last_report_ns_.load(std::memory_order_relaxed);
  if (now - last < 50'000'000) return;
  if (last_report_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) control_.progress(done, total_);
}

void ProgressTracker::finish() {
  if (control_.progress) control_.progress(done_.load(), total_);
}

}  // namespace paramscope
