// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "paramscope/jobs.h"

namespace paramscope {
class Checkpoint;
}

namespace paramscope::cli {

/// Average stored bytes per element of the listed tensors (all of them if the list is empty).
double stored_bytes_per_element(const Checkpoint& checkpoint, const std::vector<std::size_t>& tensors = {});

class ProgressBar {
 public:
  /// unit: what is counted ("elements", "bytes"); shown as a rate. bytes_per_unit > 0 also shows
  /// the stored bytes streamed so far and in all (every pass of a multi-pass job counts).
  explicit ProgressBar(std::string label, std::string unit = "", double bytes_per_unit = 0);
  ~ProgressBar();
  /// A ProgressFn for JobControl; safe to call from worker threads.
  ProgressFn callback();
  void done();

 private:
  void draw(std::uint64_t done, std::uint64_t total);
  std::string label_, unit_;
  double bytes_per_unit_;
  bool enabled_;
  bool drawn_ = false;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace paramscope::cli
