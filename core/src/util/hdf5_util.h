// Shared HDF5 plumbing: one lock (Debian's serial libhdf5 is not thread-safe), RAII handles,
// and the library's error stack turned into our one-line messages instead of stderr dumps.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>

namespace paramscope::h5 {

/// Held around every HDF5 call.
std::recursive_mutex& mutex();

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
