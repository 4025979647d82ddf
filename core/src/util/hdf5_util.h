// Shared HDF5 plumbing: one lock (Debian's serial libhdf5 is not thread-safe), RAII handles,
// and the library's error stack turned into our one-line messages instead of stderr dumps.
#pragma once

#include <hdf5.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace paramscope::h5 {

/// A recursive lock that survives fork(): the owner is kept as std::thread::id (pthread_self,
/// which a forked child keeps) rather than the kernel thread id glibc's recursive mutexes use,
/// so the child of a thread holding the lock can take it again (see util/isolated_run.h).
class RecursiveLock {
public:
  void lock() {
    const auto me = std::this_thread::get_id();
    if (owner_.load(std::memory_order_relaxed) == me) {
      ++depth_;
      return;
    }
    mutex_.lock();
    owner_.store(me, std::memory_order_relaxed);
    depth_ = 1;
  }
  void unlock() {
    if (--depth_ == 0) {
      owner_.store(std::thread::id(), std::memory_order_relaxed);
      mutex_.unlock();
    }
  }

private:
  std::mutex mutex_;
  std::atomic<std::thread::id> owner_{};
  int depth_ = 0;
};

/// Held around every HDF5 call.
RecursiveLock& mutex();

/// Turns off HDF5's automatic error printing (once per process).
void silence_errors();

/// The innermost messages of the current HDF5 error stack, "; "-joined ("" if empty).
std::string last_error();

/// Owns an HDF5 identifier and closes it with the right H5*close.
class Handle {
public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  void reset() noexcept;

private:
  hid_t id_ = H5I_INVALID_HID;
};

}  // namespace paramscope::h5
