// The worker pool's background priority: what keeps the GUI thread (and the renderer threads it
// waits on) responsive while jobs use every core.
#include <QTest>

#include <mutex>
#include <set>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "paramscope/jobs.h"

using namespace paramscope;

namespace {

#if defined(__linux__)
pid_t this_tid() {
  return static_cast<pid_t>(::syscall(SYS_gettid));
}

/// SCHED_IDLE, or nice 10 and above where a kernel refuses that policy.
bool in_background() {
  if (::sched_getscheduler(0) == SCHED_IDLE) return true;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(this_tid())) >= 10;
}
#endif

}  // namespace

class TestThreadPool : public QObject {
  Q_OBJECT
 private slots:
  void lowered_thread_is_background_and_others_are_not() {
#if defined(__linux__)
    const int before = ::sched_getscheduler(0);
    bool lowered = false;
    int policy = -1;
    std::thread t([&] {
      lower_thread_priority();
      lowered = in_background();
      policy = ::sched_getscheduler(0);
    });
    t.join();
    QVERIFY(lowered);
    QCOMPARE(policy, SCHED_IDLE);
    QCOMPARE(::sched_getscheduler(0), before);  // per thread, not per process
    QVERIFY(!in_background());
#else
    QSKIP("thread priorities are Linux-only");
#endif
  }

  void nice_on_request() {
#if defined(__linux__)
    qputenv("PARAMSCOPE_JOB_PRIORITY", "nice");
    int policy = -1, nice = 0;
    std::thread t([&] {
      lower_thread_priority();
      policy = ::sched_getscheduler(0);
      nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(this_tid()));
    });
    t.join();
    qunsetenv("PARAMSCOPE_JOB_PRIORITY");
    QCOMPARE(policy, SCHED_OTHER);
    QVERIFY(nice >= 10);
#else
    QSKIP("thread priorities are Linux-only");
#endif
  }

  void pool_workers_run_in_background_caller_does_not() {
#if defined(__linux__)
    ThreadPool pool(2);
    pool.run_workers_in_background();
    const pid_t caller = this_tid();
    std::mutex m;
    std::set<pid_t> workers;
    bool all_background = true;
    // Enough slow items that the worker thread takes some of them.
    pool.parallel_for(64, 1, [&](std::size_t, std::size_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      const pid_t tid = this_tid();
      if (tid == caller) return;
      const std::lock_guard lock(m);
      workers.insert(tid);
      all_background = all_background && in_background();
    });
    QVERIFY(!workers.empty());
    QVERIFY(all_background);
    QVERIFY(!in_background());
#else
    QSKIP("thread priorities are Linux-only");
#endif
  }
};

QTEST_GUILESS_MAIN(TestThreadPool)
#include "test_thread_pool.moc"
