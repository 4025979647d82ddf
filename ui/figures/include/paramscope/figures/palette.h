// The colours figures draw with, in one place so views and tests agree on them.
#pragma once

#include <cstdint>

namespace paramscope::figures {

struct Rgb {
  std::uint8_t r, g, b;
  constexpr bool operator==(const Rgb&) const = default;
};

namespace palette {
inline constexpr Rgb background{255, 255, 255};
inline constexpr Rgb bar{56, 108, 176};  // parameter counts
inline constexpr Rgb text{30, 30, 30};
}  // namespace palette

}  // namespace paramscope::figures
