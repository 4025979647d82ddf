#include "progress_bar.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "paramscope/checkpoint.h"

namespace paramscope::cli {

double stored_bytes_per_element(const Checkpoint& checkpoint, const std::vector<std::size_t>& tensors) {
  double bytes = 0, elements = 0;
  auto add = [&](const Tensor& t) {
    bytes += static_cast<double>(t.nbytes());
    elements += static_cast<double>(t.numel());
  };
  if (tensors.empty())
    for (const Tensor& t : checkpoint.tensors()) add(t);
  for (std::size_t i : tensors) add(checkpoint.tensors()[i]);
  return elements > 0 ? bytes / elements : 0;
}

ProgressBar::ProgressBar(std::string label, std::string unit, double bytes_per_unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      bytes_per_unit_(bytes_per_unit),
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
  std::string bytes;
  if (bytes_per_unit_ > 0)
    bytes = fmt::format("  {:.2f}/{:.2f} GB", static_cast<double>(done) * bytes_per_unit_ / 1e9,
                        static_cast<double>(total) * bytes_per_unit_ / 1e9);
  std::fprintf(stderr, "\r%s [%s] %3.0f%%%s%s%s\033[K", label_.c_str(), bar.c_str(), frac * 100, bytes.c_str(),
               rate.c_str(), eta.c_str());
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
