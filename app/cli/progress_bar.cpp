#include "progress_bar.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace paramscope::cli {

ProgressBar::ProgressBar(std::string label, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  done();
}

ProgressFn ProgressBar::callback() {
  return [this](std::uint64_t d, std::uint64_t t) { draw(d, t); };
}

void ProgressBar::draw(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::string rate;
  if (secs > 0.2 && !unit_.empty()) rate = fmt::format("  {:.1f} M{}/s", static_cast<double>(done) / secs / 1e6, unit_);
  std::string eta;
  if (secs > 0.5 && frac > 0.01 && frac < 1) eta = fmt::format("  ETA {:.0f}s", secs / frac - secs);
  std::fprintf(stderr, "\r%s [%s] %3.0f%%%s%s\033[K", label_.c_str(), bar.c_str(), frac * 100, rate.c_str(),
               eta.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::done() {
  std::lock_guard lock(mutex_);
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace paramscope::cli
