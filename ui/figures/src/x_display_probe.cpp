// Apart from the other sources: Xlib.h defines macros (Bool, Status, None) that clash with VTK.
#include <cstdlib>

#include <X11/Xlib.h>

#include "offscreen_context.h"

namespace paramscope::figures::detail {

bool x_display_available() {
  const char* name = std::getenv("DISPLAY");
  if (!name || !*name) return false;
  Display* display = XOpenDisplay(name);
  if (!display) return false;
  XCloseDisplay(display);
  return true;
}

}  // namespace paramscope::figures::detail
