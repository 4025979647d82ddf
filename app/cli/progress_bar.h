// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "paramscope/jobs.h"

namespace paramscope::cli {

class ProgressBar {
 public:
  /// unit: what is counted ("elements", "bytes"); shown as a rate.
  explicit ProgressBar(std::string label, std::string unit = "");
  ~ProgressBar();
  /// A ProgressFn for JobControl; safe to call from worker threads.
  ProgressFn callback();
  void done();

 private:
  void draw(std::uint64_t done, std::uint64_t total);
  std::string label_, unit_;
  bool enabled_;
  bool drawn_ = false;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace paramscope::cli
