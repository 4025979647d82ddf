#include "paramscope/figures/attribution_scene.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include <vtkActor2D.h>
#include <vtkCallbackCommand.h>
#include <vtkCamera.h>
#include <vtkCellArray.h>
#include <vtkCoordinate.h>
#include <vtkImageActor.h>
#include <vtkImageData.h>
#include <vtkImageProperty.h>
#include <vtkImageSliceMapper.h>
#include <vtkInteractorStyle.h>
#include <vtkLookupTable.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper2D.h>
#include <vtkProperty2D.h>
#include <vtkRenderWindow.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>
#include <vtkScalarBarActor.h>
#include <vtkSmartPointer.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>

#include "image_scene_style.h"
#include "paramscope/error.h"
#include "paramscope/figures/palette.h"

namespace paramscope::figures {
namespace {

using detail::set_text_color;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string count_text(std::int64_t v) {
  return std::to_string(v);
}

// "99th", "99.5th", "100th" (the largest).
std::string ordinal(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", p);
  std::string s = buf;
  const long whole = std::lround(p);
  if (std::fabs(p - static_cast<double>(whole)) > 1e-9) return s + "th";
  const long tens = whole % 100;
  if (tens >= 11 && tens <= 13) return s + "th";
  switch (whole % 10) {
    case 1:
      return s + "st";
    case 2:
      return s + "nd";
    case 3:
      return s + "rd";
    default:
      return s + "th";
  }
}

std::uint8_t to_byte(double unit) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(unit, 0.0, 1.0) * 255.0));
}

// An overlay takes no mouse input: no rotation of the image, none of VTK's default keys.
class PassiveStyle : public vtkInteractorStyle {
 public:
  static PassiveStyle* New();
  vtkTypeMacro(PassiveStyle, vtkInteractorStyle) void OnChar() override {}
  void OnKeyPress() override {}
};
vtkStandardNewMacro(PassiveStyle);

// The p-th percentile of values (numpy's linear interpolation); values is reordered.
double percentile(std::vector<float>& values, double p) {
  if (values.empty()) return 0;
  const double pos = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto k = static_cast<std::size_t>(std::floor(pos));
  const double frac = pos - static_cast<double>(k);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  const double lo = values[k];
  if (frac <= 0 || k + 1 >= values.size()) return lo;
  const double hi = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(k) + 1, values.end());
  return lo + (hi - lo) * frac;
}

// Feature-index ticks every 1, 2 or 5 x 10^k features, about one per `spacing` pixels.
double tick_step(double span, double pixels, double spacing) {
  const double raw = span / std::max(1.0, pixels / spacing);
  const double mag = std::pow(10.0, std::floor(std::log10(std::max(raw, 1.0))));
  const double f = raw / mag;
  return std::max(1.0, (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag);
}

}  // namespace

std::string_view attribution_sign_name(AttributionSign sign) noexcept {
  switch (sign) {
    case AttributionSign::Signed:
      return "signed";
    case AttributionSign::Positive:
      return "positive";
    case AttributionSign::Negative:
      return "negative";
    case AttributionSign::Absolute:
      return "absolute";
  }
  return "signed";
}

std::optional<AttributionSign> attribution_sign_from_name(std::string_view name) noexcept {
  std::string s(name);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "signed" || s == "all") return AttributionSign::Signed;
  if (s == "positive") return AttributionSign::Positive;
  if (s == "negative") return AttributionSign::Negative;
  if (s == "absolute" || s == "abs" || s == "absolute_value") return AttributionSign::Absolute;
  return std::nullopt;
}

struct AttributionScene::Impl : detail::ImageSceneProps {
  explicit Impl(AttributionScene& s) : scene(s) {}

  AttributionScene& scene;
  AttributionInput input;
  AttributionMap map;
  std::string title;
  bool one_d = false;  // drawn as a strip with feature ticks
  AttributionSign sign = AttributionSign::Signed;
  double alpha = 0.5;
  double clip = 99;
  Colormap sequential = Colormap::Magma;

  // Derived from the data and the options.
  double limit = 1;                  // L
  float input_lo = 0, input_hi = 0;  // the input's finite range

  vtkNew<PassiveStyle> style;

  int laid_w = 0, laid_h = 0;
  double laid_dpi = 0;
  bool dirty = true;
  std::int64_t strip_cells = 0;  // a strip's cells as last drawn: its width in pixels at most

  bool shown() const { return !map.values.empty(); }

  // --- geometry ---------------------------------------------------------------------------------
  void current_size(int& w, int& h, double& dpi_scale) const {
    detail::layout_size(scene.window(), laid_w, laid_h, laid_dpi, w, h, dpi_scale);
  }

  // The area left for the image: below the title and the legend, left of the colorbar, above the
  // tick labels of a strip.
  PixelRect area_for(int w, int h, double s) const {
    const int top = static_cast<int>(std::lround(58 * s));
    const int left = static_cast<int>(std::lround(16 * s));
    const int right = static_cast<int>(std::lround(118 * s));
    const int bottom = static_cast<int>(std::lround((one_d ? 40 : 16) * s));
    return {left, top, std::max(1, w - left - right), std::max(1, h - top - bottom)};
  }

  // The image: square pixels, as large as fits, centred; a strip fills the width.
  PixelRect plot_for(int w, int h, double s) const {
    const PixelRect a = area_for(w, h, s);
    if (!shown()) return a;
    const double rows = static_cast<double>(map.height), cols = static_cast<double>(map.width);
    int pw = 0, ph = 0;
    if (one_d) {
      pw = a.width;
      ph = static_cast<int>(std::lround(std::min<double>(a.height, std::max(a.width / cols, a.height / 3.0))));
    } else {
      const double k = std::min(a.width / cols, a.height / rows);
      pw = static_cast<int>(std::lround(cols * k));
      ph = static_cast<int>(std::lround(rows * k));
    }
    pw = std::clamp(pw, 1, a.width);
    ph = std::clamp(ph, 1, a.height);
    return {a.x + (a.width - pw) / 2, a.y + (a.height - ph) / 2, pw, ph};
  }

  PixelRect plot() const {
    int w = 0, h = 0;
    double s = 1;
    current_size(w, h, s);
    return plot_for(w, h, s);
  }

  // --- colours ----------------------------------------------------------------------------------
  // The magnitude a value shows with in the current mode.
  float magnitude(float v) const {
    switch (sign) {
      case AttributionSign::Positive:
        return std::max(v, 0.0f);
      case AttributionSign::Negative:
        return std::max(-v, 0.0f);
      default:
        return std::fabs(v);
    }
  }

  void update_limit() {
    std::vector<float> m;
    m.reserve(map.values.size());
    float largest = 0;
    for (float v : map.values)
      if (std::isfinite(v)) {
        m.push_back(magnitude(v));
        largest = std::max(largest, m.back());
      }
    double l = percentile(m, clip);
    if (!(l > 0) || !std::isfinite(l)) l = largest;
    if (!(l > 0) || !std::isfinite(l)) l = 1;
    limit = l;
  }

  void update_input_range() {
    bool any = false;
    float lo = 0, hi = 0;
    for (float v : input.values)
      if (std::isfinite(v)) {
        lo = any ? std::min(lo, v) : v;
        hi = any ? std::max(hi, v) : v;
        any = true;
      }
    input_lo = lo;
    input_hi = hi;
  }

  std::pair<double, double> range() const {
    if (!shown()) return {0, 1};
    switch (sign) {
      case AttributionSign::Signed:
        return {-limit, limit};
      case AttributionSign::Negative:
        return {-limit, 0};
      default:
        return {0, limit};
    }
  }

  // The colour at t in [0, 1] along the colorbar.
  Rgb bar_color(double t) const {
    switch (sign) {
      case AttributionSign::Signed:
        return colormap_color(Colormap::RdBuR, t);
      case AttributionSign::Positive:
        return colormap_color(Colormap::RdBuR, 0.5 + 0.5 * t);
      case AttributionSign::Negative:
        return colormap_color(Colormap::RdBuR, 0.5 * t);
      case AttributionSign::Absolute:
        return colormap_color(sequential, t);
    }
    return palette::background;
  }

  Rgb value_color(float v) const {
    if (std::isnan(v)) return palette::background;
    // Divided, not multiplied by an inverse, so that zero lands exactly in the middle of RdBu_r.
    switch (sign) {
      case AttributionSign::Signed:
        return bar_color((static_cast<double>(v) + limit) / (2 * limit));
      case AttributionSign::Positive:
        return bar_color(magnitude(v) / limit);
      case AttributionSign::Negative:
        return bar_color(1.0 - magnitude(v) / limit);
      case AttributionSign::Absolute:
        return bar_color(magnitude(v) / limit);
    }
    return palette::background;
  }

  std::uint8_t input_byte(float v) const {
    if (!std::isfinite(v)) return 0;
    if (!(input_hi > input_lo)) return 128;  // a constant input: mid grey
    return to_byte((static_cast<double>(v) - input_lo) / (static_cast<double>(input_hi) - input_lo));
  }

  Rgb input_rgb(std::int64_t row, std::int64_t col) const {
    if (row < 0 || col < 0 || row >= input.height || col >= input.width) return {0, 0, 0};
    const std::int64_t plane = input.height * input.width, at = row * input.width + col;
    auto channel = [&](std::int64_t c) { return input_byte(input.values[static_cast<std::size_t>(c * plane + at)]); };
    if (input.channels == 3) return {channel(0), channel(1), channel(2)};
    const std::uint8_t g = channel(0);
    return {g, g, g};
  }

  // --- drawing ----------------------------------------------------------------------------------
  // Cell j of a strip of `cells` over `features`: features [first, last).
  static std::pair<std::int64_t, std::int64_t> cell_range(std::int64_t j, std::int64_t cells, std::int64_t features) {
    return {j * features / cells, std::max(j * features / cells + 1, (j + 1) * features / cells)};
  }

  // A strip of more features than it is pixels wide is drawn in one cell per pixel: each shows the
  // map value of largest magnitude among its features (a lone spike stays visible) over the mean
  // of their inputs. Sampling every n-th feature instead would alias periodic inputs.
  Rgb strip_base(std::int64_t first, std::int64_t last) const {
    std::uint8_t c[3] = {0, 0, 0};
    for (std::int64_t ch = 0; ch < input.channels; ++ch) {
      double sum = 0;
      std::int64_t n = 0;
      for (std::int64_t f = first; f < last; ++f)
        if (const float v = input.values[static_cast<std::size_t>(ch * input.width + f)]; std::isfinite(v)) {
          sum += v;
          ++n;
        }
      c[ch] = n ? input_byte(static_cast<float>(sum / static_cast<double>(n))) : 0;
    }
    if (input.channels == 1) return {c[0], c[0], c[0]};
    return {c[0], c[1], c[2]};
  }

  float strip_value(std::int64_t first, std::int64_t last) const {
    float best = std::numeric_limits<float>::quiet_NaN();
    for (std::int64_t f = first; f < last; ++f)
      if (const float v = map.values[static_cast<std::size_t>(f)]; !std::isnan(v) && !(std::fabs(v) <= std::fabs(best)))
        best = v;
    return best;
  }

  std::int64_t image_cols() const { return one_d ? std::clamp<std::int64_t>(strip_cells, 1, map.width) : map.width; }

  void draw_image() {
    if (!shown()) return;
    const std::int64_t rows = map.height, cols = image_cols();
    const bool reduced = cols < map.width;
    image->SetDimensions(static_cast<int>(cols), static_cast<int>(rows), 1);
    image->AllocateScalars(VTK_UNSIGNED_CHAR, 3);
    auto* out = static_cast<unsigned char*>(image->GetScalarPointer());
    const double a = alpha;
    auto blend = [a](std::uint8_t base, std::uint8_t over) {
      return static_cast<std::uint8_t>(std::lround(base * (1 - a) + over * a));
    };
    for (std::int64_t i = 0; i < rows; ++i) {
      // VTK images start at the bottom row; the input's first row is at the top.
      unsigned char* row = out + static_cast<std::size_t>(rows - 1 - i) * static_cast<std::size_t>(cols) * 3;
      for (std::int64_t j = 0; j < cols; ++j) {
        Rgb c;
        float v;
        if (reduced) {
          const auto [first, last] = cell_range(j, cols, map.width);
          c = strip_base(first, last);
          v = strip_value(first, last);
        } else {
          c = input_rgb(i, j);
          v = map.values[static_cast<std::size_t>(i * cols + j)];
        }
        if (!std::isnan(v)) {
          const Rgb o = value_color(v);
          c = {blend(c.r, o.r), blend(c.g, o.g), blend(c.b, o.b)};
        }
        row[3 * j] = c.r;
        row[3 * j + 1] = c.g;
        row[3 * j + 2] = c.b;
      }
    }
    image->Modified();
    for (int i = 0; i < 256; ++i) {
      const Rgb c = bar_color(i / 255.0);
      lut->SetTableValue(i, c.r / 255.0, c.g / 255.0, c.b / 255.0, 1.0);
    }
    const auto [lo, hi] = range();
    lut->SetRange(lo, hi);
    lut->Modified();
  }

  std::string legend_text() const {
    const std::string pct = clip >= 100 ? std::string("the largest") : ordinal(clip) + " percentile";
    const std::string l = number(limit);
    switch (sign) {
      case AttributionSign::Signed:
        return "signed, limits \xC2\xB1" + l + " (" + pct + ")";
      case AttributionSign::Positive:
        return "positive, limit " + l + " (" + pct + ")";
      case AttributionSign::Negative:
        return "negative, limit -" + l + " (" + pct + ")";
      case AttributionSign::Absolute:
        return "absolute, limit " + l + " (" + pct + ")";
    }
    return {};
  }

  void before(int w, int h, double dpi_scale) {
    if (!dirty && w == laid_w && h == laid_h && dpi_scale == laid_dpi) return;
    laid_w = w;
    laid_h = h;
    laid_dpi = dpi_scale;
    const std::int64_t cells = one_d ? std::min<std::int64_t>(map.width, plot_for(w, h, dpi_scale).width) : 0;
    if (dirty || cells != strip_cells) {
      strip_cells = cells;
      draw_image();
    }
    dirty = false;
    place_actors();
  }

  void place_actors() {
    const double s = laid_dpi;
    const int w = laid_w, h = laid_h;
    const bool on = shown();
    image_actor->SetVisibility(on);
    bar->SetVisibility(on);
    legend_actor->SetVisibility(on);

    title_actor->SetInput(on ? title.c_str() : "no attribution");
    title_actor->SetPosition(w / 2.0, h - 10 * s);
    legend_actor->SetInput(on ? legend_text().c_str() : "");
    legend_actor->SetPosition(w / 2.0, h - 34 * s);

    const PixelRect p = plot_for(w, h, s);
    const int bottom = h - p.y - p.height;  // VTK's display y of the image's lower edge
    detail::place_pixel_camera(scene.renderer(), w, h);

    std::size_t used = 0;
    vtkNew<vtkPoints> points;
    vtkNew<vtkCellArray> lines;
    if (on) {
      // Element (i, j) covers [p.x + j sx, p.x + (j + 1) sx): centres at + 0.5 sx.
      const double sx = static_cast<double>(p.width) / static_cast<double>(image_cols());
      const double sy = static_cast<double>(p.height) / static_cast<double>(map.height);
      image->SetSpacing(sx, sy, 1);
      image->SetOrigin(p.x + 0.5 * sx, bottom + 0.5 * sy, 0);

      // The bar beside the image, as tall as it (at least 120 points, at most the area).
      const PixelRect a = area_for(w, h, s);
      const double bar_h = std::clamp<double>(std::max<double>(p.height, 120 * s), 1, a.height);
      const double bar_y = std::max<double>(h - a.y - a.height, bottom + p.height / 2.0 - bar_h / 2);
      detail::place_colorbar(bar, p.x + p.width, bar_y, bar_h, w, h, s);

      if (one_d) place_feature_ticks(p, bottom, s, points, lines, used);
    }
    for (std::size_t i = used; i < tick_labels.size(); ++i) tick_labels[i]->SetVisibility(false);
    axes->SetPoints(points);
    axes->SetLines(lines);
    axes_actor->SetVisibility(on && one_d);
    axes_actor->GetProperty()->SetLineWidth(static_cast<float>(line_scale));
  }

  // A strip's axis: a line under it with ticks at feature centres and their indices.
  void place_feature_ticks(const PixelRect& p, int bottom, double s, vtkPoints* points, vtkCellArray* lines,
                           std::size_t& used) {
    auto line = [&](double x0, double y0, double x1, double y1) {
      const vtkIdType ids[2] = {points->InsertNextPoint(x0, y0, 0), points->InsertNextPoint(x1, y1, 0)};
      lines->InsertNextCell(2, ids);
    };
    auto label = [&](const std::string& text, double x, double y) {
      if (used == tick_labels.size()) {
        auto actor = vtkSmartPointer<vtkTextActor>::New();
        actor->GetPositionCoordinate()->SetCoordinateSystemToDisplay();
        vtkTextProperty* t = actor->GetTextProperty();
        t->SetFontSize(11);
        t->SetJustificationToCentered();
        t->SetVerticalJustificationToTop();
        set_text_color(t);
        scene.renderer()->AddActor2D(actor);
        tick_labels.push_back(actor);
      }
      vtkTextActor* actor = tick_labels[used++];
      actor->SetInput(text.c_str());
      actor->SetPosition(x, y);
      actor->SetVisibility(true);
    };
    const double features = static_cast<double>(map.width), tick = 5 * s, base = bottom - 0.5;
    line(p.x, base, p.x + p.width, base);
    const double step = tick_step(features, p.width, 90 * s);
    for (double t = 0; t < features; t += step) {
      const double x = p.x + (t + 0.5) / features * p.width;
      line(x, base - tick, x, base);
      label(count_text(static_cast<std::int64_t>(t)), x, base - tick - 2 * s);
    }
  }

  void changed() { dirty = true; }

};

AttributionScene::AttributionScene() : impl_(std::make_unique<Impl>(*this)) {
  Impl& d = *impl_;
  vtkRenderer* r = renderer();
  d.add_to(r);

  // The image is recoloured before a render when the content changed, and laid out again when
  // the window's size changed.
  d.observer = detail::call_before_render(r, d.before_render, &d);
  clear();
}

AttributionScene::~AttributionScene() {
  detach();
  renderer()->RemoveObserver(impl_->observer);
}

void AttributionScene::set_data(AttributionInput input, AttributionMap map, const std::string& title) {
  if (input.channels != 1 && input.channels != 3)
    throw usage_error("an attribution's input must have 1 (grey) or 3 (RGB) channels, not " +
                      count_text(input.channels));
  if (input.height < 1 || input.width < 1 || map.height < 1 || map.width < 1)
    throw usage_error("an attribution's input and map must have at least one pixel");
  if (static_cast<std::int64_t>(input.values.size()) / input.channels / input.height != input.width ||
      static_cast<std::int64_t>(input.values.size()) != input.channels * input.height * input.width)
    throw usage_error("the attribution's input holds " + count_text(static_cast<std::int64_t>(input.values.size())) +
                      " values, not " + count_text(input.channels) + " x " + count_text(input.height) + " x " +
                      count_text(input.width));
  if (map.height != input.height || map.width != input.width)
    throw usage_error("the attribution map is " + count_text(map.height) + " x " + count_text(map.width) +
                      ", its input " + count_text(input.height) + " x " + count_text(input.width));
  if (static_cast<std::int64_t>(map.values.size()) / map.height != map.width ||
      static_cast<std::int64_t>(map.values.size()) != map.height * map.width)
    throw usage_error("the attribution map holds " + count_text(static_cast<std::int64_t>(map.values.size())) +
                      " values, not " + count_text(map.height) + " x " + count_text(map.width));
  Impl& d = *impl_;
  d.input = std::move(input);
  d.map = std::move(map);
  d.title = title;
  d.one_d = d.map.height == 1;
  d.update_input_range();
  d.update_limit();
  d.changed();
}

void AttributionScene::set_features(std::vector<float> input, std::vector<float> map, const std::string& title) {
  if (input.empty() || input.size() != map.size())
    throw usage_error("a 1-D attribution needs one map value per input feature (" +
                      count_text(static_cast<std::int64_t>(input.size())) + " features, " +
                      count_text(static_cast<std::int64_t>(map.size())) + " values)");
  const auto f = static_cast<std::int64_t>(input.size());
  set_data({std::move(input), 1, 1, f}, {std::move(map), 1, f}, title);
}

void AttributionScene::clear() {
  Impl& d = *impl_;
  d.input = {};
  d.map = {};
  d.title.clear();
  d.one_d = false;
  d.limit = 1;
  d.changed();
}

const AttributionInput& AttributionScene::input() const noexcept {
  return impl_->input;
}
const AttributionMap& AttributionScene::map() const noexcept {
  return impl_->map;
}

void AttributionScene::set_sign(AttributionSign sign) {
  impl_->sign = sign;
  impl_->update_limit();
  impl_->changed();
}
AttributionSign AttributionScene::sign() const noexcept {
  return impl_->sign;
}

void AttributionScene::set_alpha(double alpha) {
  if (!(alpha >= 0 && alpha <= 1)) throw usage_error("the overlay's alpha " + number(alpha) + " is outside [0, 1]");
  impl_->alpha = alpha;
  impl_->changed();
}
double AttributionScene::alpha() const noexcept {
  return impl_->alpha;
}

void AttributionScene::set_clip_percentile(double percentile) {
  if (!(percentile > 0 && percentile <= 100))
    throw usage_error("the clip percentile " + number(percentile) + " is outside (0, 100]");
  impl_->clip = percentile;
  impl_->update_limit();
  impl_->changed();
}
double AttributionScene::clip_percentile() const noexcept {
  return impl_->clip;
}

void AttributionScene::set_sequential_colormap(Colormap map) {
  impl_->sequential = map;
  impl_->changed();
}
Colormap AttributionScene::sequential_colormap() const noexcept {
  return impl_->sequential;
}

std::pair<double, double> AttributionScene::color_range() const noexcept {
  return impl_->range();
}
Rgb AttributionScene::color_of(float value) const noexcept {
  return impl_->value_color(value);
}
Rgb AttributionScene::input_color(std::int64_t row, std::int64_t col) const noexcept {
  return impl_->input_rgb(row, col);
}

PixelRect AttributionScene::plot_rect() const {
  return impl_->plot();
}

void AttributionScene::on_attach(vtkRenderWindow* window) {
  impl_->dirty = true;
  if (vtkRenderWindowInteractor* iren = window->GetInteractor()) iren->SetInteractorStyle(impl_->style);
}

void AttributionScene::on_detach(vtkRenderWindow* window) {
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (iren && iren->GetInteractorStyle() == impl_->style.GetPointer()) iren->SetInteractorStyle(nullptr);
}

void AttributionScene::on_scale(double scale) {
  // Margins and text follow the window's DPI by themselves; lines are drawn in pixels.
  impl_->line_scale = scale;
  impl_->dirty = true;
}

}  // namespace paramscope::figures
