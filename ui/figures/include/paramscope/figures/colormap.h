// Colormaps for heatmaps: matplotlib's viridis and magma, the diverging RdBu_r for signed values,
// and gray, as 256-entry tables.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "paramscope/figures/palette.h"

namespace paramscope::figures {

enum class Colormap : std::uint8_t { Viridis, Magma, RdBuR, Gray };

inline constexpr std::array<Colormap, 4> kColormaps{Colormap::Viridis, Colormap::Magma, Colormap::RdBuR,
                                                    Colormap::Gray};

/// The 256 colours of a map, low to high.
const std::array<Rgb, 256>& colormap_table(Colormap map) noexcept;

/// "viridis", "magma", "rdbu_r", "gray".
std::string_view colormap_name(Colormap map) noexcept;
/// The map of a name (case-insensitive; "coolwarm" and "diverging" mean rdbu_r, "grey" gray).
std::optional<Colormap> colormap_from_name(std::string_view name) noexcept;

/// Diverging maps put zero in the middle: a linear scale over signed data is made symmetric.
bool is_diverging(Colormap map) noexcept;

/// A colour that stands out against every colour of the map and on a white page (for overlays and
/// their labels): red on viridis and gray, sky blue on magma (which runs through reds), green on
/// RdBu_r.
Rgb contrasting_color(Colormap map) noexcept;

/// The colour of t in [0, 1] as matplotlib picks it: entry floor(256 t), t = 1 taking the last;
/// values below 0 or above 1 take the end colours.
Rgb colormap_color(Colormap map, double t) noexcept;

}  // namespace paramscope::figures
