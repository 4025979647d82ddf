// An attribution map (RISE, DeepLIFT, gradients) laid over the input it explains: the input drawn
// in grey or RGB, the map's colours alpha-blended over it, a colorbar of the map's colours and a
// title ("deeplift, class 3 (score 7.12)"). Images are drawn with square pixels; a 1-D sample
// (F features) is drawn as a 1 x F strip with feature indices below it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "paramscope/figures/colormap.h"
#include "paramscope/figures/heatmap_scene.h"  // PixelRect
#include "paramscope/figures/scene.h"

namespace paramscope::figures {

/// Which part of a signed map is shown, and how.
enum class AttributionSign : std::uint8_t {
  Signed,    ///< RdBu_r over [-L, L]: positive red, negative blue, zero white
  Positive,  ///< the red half of RdBu_r over [0, L]; negative values show as zero (white)
  Negative,  ///< the blue half of RdBu_r over [-L, 0]; positive values show as zero (white)
  Absolute,  ///< |value| in a sequential map (magma unless set) over [0, L]
};

/// "signed", "positive", "negative", "absolute".
std::string_view attribution_sign_name(AttributionSign sign) noexcept;
/// The mode of a name (case-insensitive; "abs" and "absolute_value" mean absolute, "all" signed,
/// as Captum names them).
std::optional<AttributionSign> attribution_sign_from_name(std::string_view name) noexcept;

/// The input a map explains, as plain data: channels x height x width floats, channel-major (CHW,
/// as one sample of an NCHW batch). 1 channel is drawn in grey, 3 in RGB.
struct AttributionInput {
  std::vector<float> values;
  std::int64_t channels = 1, height = 0, width = 0;
};

/// The map: height x width floats, row-major, one per pixel of the input (the caller reduces a map
/// with channels, e.g. by summing over them). NaN: no value (the input shows unblended).
struct AttributionMap {
  std::vector<float> values;
  std::int64_t height = 0, width = 0;
};

class AttributionScene final : public Scene {
 public:
  AttributionScene();
  ~AttributionScene() override;

  /// Shows map over input. The input is min-max normalised for display over all its channels
  /// together (its minimum black, its maximum white, so an RGB image keeps its colour balance; a
  /// constant input is mid grey; NaN and infinities are left out of the range and drawn black).
  /// A 1-row image of width F is drawn as a strip of F cells (see set_features).
  /// throws Error(Usage) unless input.channels is 1 or 3, the sizes are >= 1 and match the value
  /// counts, and the map has the input's height and width.
  void set_data(AttributionInput input, AttributionMap map, const std::string& title);
  /// Shows a 1-D sample: F input features (drawn in grey, normalised as images are) with one map
  /// value each, as a 1 x F strip. Same as set_data with a 1 x 1 x F input and a 1 x F map. A strip
  /// of more features than pixels draws one cell per pixel: the map value of largest magnitude
  /// among its features (a lone spike stays visible) over the mean of their inputs.
  /// throws Error(Usage) if the sizes differ or are 0.
  void set_features(std::vector<float> input, std::vector<float> map, const std::string& title);
  /// Shows nothing (and a placeholder title).
  void clear();
  const AttributionInput& input() const noexcept;
  const AttributionMap& map() const noexcept;

  /// How the map is coloured (Signed until set).
  void set_sign(AttributionSign sign);
  AttributionSign sign() const noexcept;
  /// The map's opacity over the input: 0 shows the input alone, 1 the map alone (0.5 until set).
  /// Each pixel is input * (1 - alpha) + colour * alpha, per 8-bit channel, rounded.
  /// throws Error(Usage) outside [0, 1].
  void set_alpha(double alpha);
  double alpha() const noexcept;
  /// The colour limit L is this percentile of the magnitudes the mode shows (|map| for Signed and
  /// Absolute, max(map, 0) for Positive, max(-map, 0) for Negative), with linear interpolation
  /// between order statistics as numpy.percentile; values beyond L take the end colour. 99 until
  /// set (a few extreme pixels do not wash out the rest, as saliency maps are commonly shown);
  /// 100 is the largest magnitude. When the percentile is 0 the largest magnitude is used, and 1
  /// when that is 0 too. throws Error(Usage) outside (0, 100].
  void set_clip_percentile(double percentile);
  double clip_percentile() const noexcept;
  /// The sequential map of the Absolute mode (Magma until set).
  void set_sequential_colormap(Colormap map);
  Colormap sequential_colormap() const noexcept;

  /// The values at the two ends of the colorbar: {-L, L}, {0, L}, {-L, 0} or {0, L} by mode;
  /// {0, 1} when nothing is shown.
  std::pair<double, double> color_range() const noexcept;
  /// The colour a map value takes before blending (the colorbar's colour at that value; NaN gives
  /// the background colour).
  Rgb color_of(float value) const noexcept;
  /// The grey or RGB colour of input pixel (row, col) before blending (0..255 after min-max
  /// normalisation; 0 outside the input).
  Rgb input_color(std::int64_t row, std::int64_t col) const noexcept;

  /// Where the image lies in a window of the current size (the attached window's, else the last
  /// rendered one's, else 800 x 600), origin at the top-left. Pixel (x, y) inside shows the
  /// element under its centre: row floor((y + 0.5 - rect.y) * height / rect.height), col likewise.
  PixelRect plot_rect() const;

 protected:
  void on_attach(vtkRenderWindow* window) override;
  void on_detach(vtkRenderWindow* window) override;
  void on_scale(double scale) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
