// Apart from the other sources: Xlib.h defines macros (Bool, Status, None) that clash with VTK.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <X11/Xlib.h>

#include "offscreen_context.h"

namespace paramscope::figures::detail {
namespace {

// XOpenDisplay fails now and then on a busy server (measured on Xvfb: 7-15 % of 300 quick
// connections refused), and VTK's X window aborts the process when its own XOpenDisplay fails.
// So the connection is opened here, with retries (about 0.4 s in all for a server that is not
// there), and handed to every window.
Display* open_with_retries(const std::string& name) {
  for (int attempt = 0;; ++attempt) {
    if (Display* d = XOpenDisplay(name.c_str())) return d;
    if (attempt == 7) return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(10 << std::min(attempt, 3)));
  }
}

}  // namespace

void* shared_x_display() {
  const char* env = std::getenv("DISPLAY");
  if (!env || !*env) return nullptr;
  // One connection per display name, opened once and never closed (windows may use it until the
  // process exits); a name that failed is not tried again.
  static std::mutex mutex;
  static std::map<std::string, Display*> displays;
  const std::lock_guard lock(mutex);
  const auto [it, added] = displays.try_emplace(env, nullptr);
  if (added) it->second = open_with_retries(env);
  return it->second;
}

}  // namespace paramscope::figures::detail
