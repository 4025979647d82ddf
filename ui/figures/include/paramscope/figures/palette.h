// The colours figures draw with, in one place so views and tests agree on them.
#pragma once

#include <array>
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
inline constexpr Rgb marker{214, 39, 40};  // thresholds and fitted curves drawn over data
/// One colour per data series, in order (matplotlib's tab10 without its red and grey).
inline constexpr std::array<Rgb, 8> series{{{31, 119, 180},
                                            {255, 127, 14},
                                            {44, 160, 44},
                                            {148, 103, 189},
                                            {140, 86, 75},
                                            {227, 119, 194},
                                            {188, 189, 34},
                                            {23, 190, 207}}};
}  // namespace palette

}  // namespace paramscope::figures
