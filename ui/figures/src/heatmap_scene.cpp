#include "paramscope/figures/heatmap_scene.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include <vtkActor2D.h>
#include <vtkCallbackCommand.h>
#include <vtkCamera.h>
#include <vtkCellArray.h>
#include <vtkCoordinate.h>
#include <vtkImageData.h>
#include <vtkImageActor.h>
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

// Pyramids built on the caller's (GUI) thread go through a pool of that thread alone: joining the
// shared pool could have it run a long job's tasks before returning.
ThreadPool& calling_thread() {
  thread_local ThreadPool pool(1);
  return pool;
}

// Zoom stops when one element is this many pixels wide.
constexpr double kMaxPixelsPerElement = 64;
constexpr double kWheelZoom = 1.25;
// Log scale: the low end is at least this fraction of the high end.
constexpr double kLogDecadesFloor = 1e-12;

using detail::set_text_color;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// An element index of a tick.
std::string index_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

// Mouse input of a heatmap: wheel zooms around the pointer, left drag pans, moving hovers.
class HeatmapStyle : public vtkInteractorStyle {
public:
  static HeatmapStyle* New();
  vtkTypeMacro(HeatmapStyle, vtkInteractorStyle)

  std::function<void(double factor, int x, int y)> zoom;
  std::function<void(int dx, int dy)> pan;
  std::function<void(int x, int y, bool inside)> hover;

  void OnLeftButtonDown() override {
    dragging_ = true;
    position(last_x_, last_y_);
  }
  void OnLeftButtonUp() override { dragging_ = false; }
  void OnMouseMove() override {
    int x = 0, y = 0;
    position(x, y);
    if (dragging_ && pan) {
      pan(x - last_x_, y - last_y_);
      last_x_ = x;
      last_y_ = y;
    }
    if (hover) hover(x, y, true);
  }
  void OnMouseWheelForward() override { wheel(kWheelZoom); }
  void OnMouseWheelBackward() override { wheel(1 / kWheelZoom); }
  void OnLeave() override {
    dragging_ = false;
    if (hover) hover(0, 0, false);
  }
  // VTK's default keys (quit, wireframe, stereo) make no sense on a heatmap.
  void OnChar() override {}
  void OnKeyPress() override {}

private:
  void wheel(double factor) {
    int x = 0, y = 0;
    position(x, y);
    if (zoom) zoom(factor, x, y);
  }
  // The event position with the origin at the top-left.
  void position(int& x, int& y) {
    vtkRenderWindowInteractor* iren = GetInteractor();
    const int* p = iren->GetEventPosition();
    const int* size = iren->GetRenderWindow()->GetSize();
    x = p[0];
    y = size[1] - 1 - p[1];
  }
  bool dragging_ = false;
  int last_x_ = 0, last_y_ = 0;
};
vtkStandardNewMacro(HeatmapStyle);

}  // namespace

struct HeatmapScene::Impl : detail::ImageSceneProps {
  explicit Impl(HeatmapScene& s) : scene(s) {}

  HeatmapScene& scene;
  std::shared_ptr<const TensorPyramid> pyramid;
  std::string title;
  Colormap map = Colormap::Viridis;
  ColorScale scale = ColorScale::Linear;
  double lo_pct = 0, hi_pct = 100;
  PyramidReduction reduction = PyramidReduction::MaxAbs;
  MatrixWindow window;

  std::shared_ptr<const TensorPyramid> overlay;
  float overlay_threshold = 0.5f;
  std::optional<float> topk_threshold;
  std::string overlay_label;
  Rgb overlay_color = contrasting_color(Colormap::Viridis);
  bool overlay_color_chosen = false;  // else it follows the colormap
  double overlay_opacity = 0.6;

  std::optional<Readout> hovered;
  std::function<void(const std::optional<Readout>&)> hover_callback;

  // The image, bar, axes (the frame's left and bottom lines with tick marks and labels), title
  // and legend come from ImageSceneProps.
  vtkNew<vtkTextActor> readout_actor;
  vtkNew<HeatmapStyle> style;

  // The window size the actors were last laid out for, and whether the content changed since.
  int laid_w = 0, laid_h = 0;
  double laid_dpi = 0;
  bool dirty = true;
  std::string error;  // a failure to read values, shown instead of the legend

  // --- geometry ---------------------------------------------------------------------------------
  void current_size(int& w, int& h, double& dpi_scale) const {
    detail::layout_size(scene.window(), laid_w, laid_h, laid_dpi, w, h, dpi_scale);
  }

  bool has_legend() const { return overlay != nullptr || !error.empty(); }

  PixelRect plot_for(int w, int h, double s) const {
    const int top = static_cast<int>(std::lround((title.empty() ? 12 : 36) * s + (has_legend() ? 20 * s : 0)));
    const int left = static_cast<int>(std::lround(64 * s)), bottom = static_cast<int>(std::lround(40 * s));
    const int right = static_cast<int>(std::lround(120 * s));
    return {left, top, std::max(1, w - left - right), std::max(1, h - top - bottom)};
  }

  PixelRect plot() const {
    int w = 0, h = 0;
    double s = 1;
    current_size(w, h, s);
    return plot_for(w, h, s);
  }

  // Keeps the window inside the matrix and the zoom within limits, axis by axis.
  void clamp_window() {
    if (!pyramid) return;
    const PixelRect p = plot();
    auto axis = [](double& a, double& b, double extent, int pixels) {
      const double min_span = std::min(extent, pixels / kMaxPixelsPerElement);
      double span = std::clamp(b - a, min_span, extent);
      if (!std::isfinite(span)) span = extent;
      const double centre = std::isfinite(a + b) ? (a + b) / 2 : extent / 2;
      a = std::clamp(centre - span / 2, 0.0, extent - span);
      b = a + span;
    };
    axis(window.row0, window.row1, static_cast<double>(pyramid->rows()), p.height);
    axis(window.col0, window.col1, static_cast<double>(pyramid->cols()), p.width);
  }

  // --- colours ----------------------------------------------------------------------------------
  std::pair<double, double> range() const {
    if (!pyramid) return {0, 1};
    const ValueStats& s = pyramid->stats();
    if (scale == ColorScale::Log) {
      double hi = s.abs_percentile(hi_pct);
      double lo = s.abs_percentile(lo_pct, true);
      if (!(hi > 0)) hi = 1;
      lo = std::clamp(lo, hi * kLogDecadesFloor, hi);
      return {lo, hi};
    }
    double lo = s.percentile(lo_pct), hi = s.percentile(hi_pct);
    if (is_diverging(map) && lo < 0 && hi > 0) {
      const double m = std::max(-lo, hi);
      lo = -m;
      hi = m;
    }
    return {lo, hi};
  }

  PyramidReduction effective_reduction() const {
    if (!pyramid || pyramid->has(reduction)) return reduction;
    return reduction == PyramidReduction::Mean ? PyramidReduction::MaxAbs : PyramidReduction::Mean;
  }

  // --- drawing ----------------------------------------------------------------------------------
  void before(int w, int h, double dpi_scale) {
    if (!dirty && w == laid_w && h == laid_h && dpi_scale == laid_dpi) return;
    laid_w = w;
    laid_h = h;
    laid_dpi = dpi_scale;
    dirty = false;
    error.clear();
    try {
      draw_image();
    } catch (const Error& e) {
      // Rendering runs inside VTK's callbacks: report in the figure, never throw through them.
      error = std::string("cannot show the values: ") + e.what();
      image_actor->SetVisibility(false);
    }
    place_actors();
  }

  void draw_image() {
    const bool shown = pyramid != nullptr;
    image_actor->SetVisibility(shown);
    bar->SetVisibility(shown);
    axes_actor->SetVisibility(shown);
    if (!shown) return;
    const PixelRect p = plot_for(laid_w, laid_h, laid_dpi);
    const MatrixWindow& v = window;
    const auto values = pyramid->view(v.row0, v.row1, v.col0, v.col1, p.width, p.height, effective_reduction());
    std::vector<float> marks;
    if (overlay)
      marks = overlay->view(v.row0, v.row1, v.col0, v.col1, p.width, p.height,
                            overlay->has(PyramidReduction::MaxAbs) ? PyramidReduction::MaxAbs : PyramidReduction::Mean);

    image->SetDimensions(p.width, p.height, 1);
    image->AllocateScalars(VTK_UNSIGNED_CHAR, 3);
    auto* out = static_cast<unsigned char*>(image->GetScalarPointer());
    const auto [lo, hi] = range();
    const bool log = scale == ColorScale::Log;
    const double l0 = log ? std::log10(lo) : lo;
    // Divided, not multiplied by an inverse, so that t is exact where matplotlib's is (0.5 -> 128).
    const double span = log ? std::log10(hi) - l0 : hi - lo;
    const double a = overlay_opacity;
    for (int i = 0; i < p.height; ++i) {
      // VTK images start at the bottom row; the matrix's first row is at the top.
      unsigned char* row = out + static_cast<std::size_t>(p.height - 1 - i) * static_cast<std::size_t>(p.width) * 3;
      for (int j = 0; j < p.width; ++j) {
        const std::size_t k = static_cast<std::size_t>(i) * static_cast<std::size_t>(p.width) + static_cast<std::size_t>(j);
        const float x = values[k];
        Rgb c = palette::background;  // NaN, as matplotlib draws "bad" values: not at all
        if (!std::isnan(x)) {
          const double d = log ? std::log10(std::max(static_cast<double>(std::fabs(x)), lo)) - l0 : x - lo;
          c = colormap_color(map, span > 0 ? d / span : 0.0);
        }
        if (!marks.empty() && marks[k] >= overlay_threshold) {
          auto blend = [a](std::uint8_t base, std::uint8_t over) {
            return static_cast<std::uint8_t>(std::lround(base * (1 - a) + over * a));
          };
          c = {blend(c.r, overlay_color.r), blend(c.g, overlay_color.g), blend(c.b, overlay_color.b)};
        }
        row[3 * j] = c.r;
        row[3 * j + 1] = c.g;
        row[3 * j + 2] = c.b;
      }
    }
    image->Modified();
  }

  void place_actors() {
    const double s = laid_dpi;
    const int w = laid_w, h = laid_h;
    const PixelRect p = plot_for(w, h, s);
    const int bottom = h - p.y - p.height;  // VTK's display y of the plot's lower edge

    title_actor->SetInput(title.empty() ? "no matrix" : title.c_str());
    title_actor->SetPosition(w / 2.0, h - 10 * s);

    std::string legend = error;
    if (legend.empty() && overlay) {
      legend = overlay_label;
      if (topk_threshold) legend += " (score >= " + number(*topk_threshold) + ")";
    }
    legend_actor->SetInput(legend.c_str());
    legend_actor->SetVisibility(!legend.empty());
    legend_actor->SetPosition(w / 2.0, h - (title.empty() ? 10 : 34) * s);
    set_text_color(legend_actor->GetTextProperty(), error.empty() ? overlay_color : palette::text);

    // Pixel (i, j) of the image lies on display pixel (p.x + j, bottom + i): centres at + 0.5.
    image->SetOrigin(p.x + 0.5, bottom + 0.5, 0);
    detail::place_pixel_camera(scene.renderer(), w, h);

    if (pyramid) {
      const auto [lo, hi] = range();
      // A log table refuses a range through zero: switch the scale on the side of a valid range.
      const double top = hi > lo ? hi : lo + (scale == ColorScale::Log ? lo : 1.0);
      if (scale == ColorScale::Log) {
        lut->SetRange(lo, top);
        lut->SetScale(VTK_SCALE_LOG10);
      } else {
        lut->SetScale(VTK_SCALE_LINEAR);
        lut->SetRange(lo, top);
      }
      const auto& table = colormap_table(map);
      for (int i = 0; i < 256; ++i) {
        const Rgb c = table[static_cast<std::size_t>(i)];
        lut->SetTableValue(i, c.r / 255.0, c.g / 255.0, c.b / 255.0, 1.0);
      }
      // The bar sits right of the plot, its height the plot's; labels follow it.
      detail::place_colorbar(bar, p.x + p.width, bottom, p.height, w, h, s);

    }
    place_axes(p, bottom, s);
    readout_actor->SetPosition(p.x + 4 * s, h - p.y - 4 * s);
  }

  // Ticks at element centres (as matplotlib's imshow labels them), every 1, 2 or 5 x 10^k
  // elements, about one per 90 pixels along columns and one per 50 along rows.
  static double tick_step(double span, double pixels, double spacing) {
    const double raw = span / std::max(1.0, pixels / spacing);
    const double mag = std::pow(10.0, std::floor(std::log10(std::max(raw, 1.0))));
    const double f = raw / mag;
    return std::max(1.0, (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag);
  }

  void place_axes(const PixelRect& p, int bottom, double s) {
    vtkNew<vtkPoints> points;
    vtkNew<vtkCellArray> lines;
    auto line = [&](double x0, double y0, double x1, double y1) {
      const vtkIdType a = points->InsertNextPoint(x0, y0, 0), b = points->InsertNextPoint(x1, y1, 0);
      const vtkIdType ids[2] = {a, b};
      lines->InsertNextCell(2, ids);
    };
    std::size_t used = 0;
    auto label = [&](const std::string& text, double x, double y, bool row) {
      if (used == tick_labels.size()) {
        auto actor = vtkSmartPointer<vtkTextActor>::New();
        actor->GetPositionCoordinate()->SetCoordinateSystemToDisplay();
        vtkTextProperty* t = actor->GetTextProperty();
        t->SetFontSize(11);
        set_text_color(t);
        scene.renderer()->AddActor2D(actor);
        tick_labels.push_back(actor);
      }
      vtkTextActor* actor = tick_labels[used++];
      actor->SetInput(text.c_str());
      if (row) {
        actor->GetTextProperty()->SetJustificationToRight();
        actor->GetTextProperty()->SetVerticalJustificationToCentered();
      } else {
        actor->GetTextProperty()->SetJustificationToCentered();
        actor->GetTextProperty()->SetVerticalJustificationToTop();
      }
      actor->SetPosition(x, y);
      actor->SetVisibility(true);
    };
    if (pyramid) {
      const double tick = 5 * s, left = p.x - 0.5, base = bottom - 0.5;
      line(left, base, left, bottom + p.height);
      line(left, base, p.x + p.width, base);
      const MatrixWindow& v = window;
      const double rstep = tick_step(v.row1 - v.row0, p.height, 50 * s);
      for (double t = std::ceil((v.row0 - 0.5) / rstep) * rstep + 0.0; t + 0.5 <= v.row1; t += rstep) {
        const double y = bottom + p.height - (t + 0.5 - v.row0) / (v.row1 - v.row0) * p.height;
        line(left - tick, y, left, y);
        label(index_text(t), left - tick - 3 * s, y, true);
      }
      const double cstep = tick_step(v.col1 - v.col0, p.width, 90 * s);
      for (double t = std::ceil((v.col0 - 0.5) / cstep) * cstep + 0.0; t + 0.5 <= v.col1; t += cstep) {
        const double x = p.x + (t + 0.5 - v.col0) / (v.col1 - v.col0) * p.width;
        line(x, base - tick, x, base);
        label(index_text(t), x, base - tick - 2 * s, false);
      }
    }
    for (std::size_t i = used; i < tick_labels.size(); ++i) tick_labels[i]->SetVisibility(false);
    axes->SetPoints(points);
    axes->SetLines(lines);
    axes_actor->GetProperty()->SetLineWidth(static_cast<float>(line_scale));
  }

  void show_readout(const std::optional<Readout>& r) {
    const bool changed = r.has_value() != hovered.has_value() ||
                         (r && (r->row != hovered->row || r->col != hovered->col));
    hovered = r;
    if (r) {
      const std::string text = "row " + std::to_string(r->row) + ", col " + std::to_string(r->col) + ": " + number(r->value);
      readout_actor->SetInput(text.c_str());
    }
    readout_actor->SetVisibility(r.has_value());
    if (changed && hover_callback) hover_callback(r);
  }

  // Content changed: the image is redrawn at the next render (which the caller asks for).
  void changed() { dirty = true; }

  // After mouse input: render now, through the interactor (the Qt bridge shows that frame).
  void render_now() const {
    if (vtkRenderWindow* win = scene.window())
      if (vtkRenderWindowInteractor* iren = win->GetInteractor()) iren->Render();
  }

};

HeatmapScene::HeatmapScene() : impl_(std::make_unique<Impl>(*this)) {
  Impl& d = *impl_;

  vtkTextProperty* readout = d.readout_actor->GetTextProperty();
  readout->SetFontSize(12);
  readout->SetVerticalJustificationToTop();
  readout->SetBackgroundColor(1, 1, 1);
  readout->SetBackgroundOpacity(0.85);
  set_text_color(readout);
  d.readout_actor->GetPositionCoordinate()->SetCoordinateSystemToDisplay();
  d.readout_actor->SetVisibility(false);

  vtkRenderer* r = renderer();
  d.add_to(r);
  r->AddActor2D(d.readout_actor);

  // The image is re-queried before a render whenever the content or the window's size changed.
  d.observer = detail::call_before_render(r, d.before_render, &d);

  d.style->zoom = [this](double f, int x, int y) {
    zoom(f, x, y);
    impl_->render_now();
  };
  d.style->pan = [this](int dx, int dy) {
    pan(dx, dy);
    impl_->render_now();
  };
  d.style->hover = [this](int x, int y, bool inside) {
    std::optional<Readout> under;
    if (inside) {
      try {
        under = readout_at(x, y);
      } catch (const Error&) {
        under.reset();  // a tensor that cannot be read shows no read-out; the image says why
      }
    }
    const bool was = impl_->hovered.has_value();
    impl_->show_readout(under);
    if (was || under) impl_->render_now();
  };
  clear();
}

HeatmapScene::~HeatmapScene() {
  detach();
  renderer()->RemoveObserver(impl_->observer);
}

void HeatmapScene::set_pyramid(std::shared_ptr<const TensorPyramid> pyramid, const std::string& title) {
  Impl& d = *impl_;
  d.pyramid = std::move(pyramid);
  d.title = d.pyramid ? title : std::string();
  d.overlay.reset();
  d.topk_threshold.reset();
  d.show_readout(std::nullopt);
  reset_view();
}

void HeatmapScene::set_matrix(std::vector<float> values, std::int64_t rows, std::int64_t cols,
                              const std::string& title) {
  auto shared = std::make_shared<const std::vector<float>>(std::move(values));
  set_pyramid(std::make_shared<const TensorPyramid>(TensorPyramid::of_values(shared, rows, cols, calling_thread())),
              title);
}

void HeatmapScene::clear() { set_pyramid(nullptr, {}); }

const TensorPyramid* HeatmapScene::pyramid() const noexcept { return impl_->pyramid.get(); }

void HeatmapScene::set_colormap(Colormap map) {
  impl_->map = map;
  if (!impl_->overlay_color_chosen) impl_->overlay_color = contrasting_color(map);
  impl_->changed();
}
Colormap HeatmapScene::colormap() const noexcept { return impl_->map; }

void HeatmapScene::set_scale(ColorScale scale) {
  impl_->scale = scale;
  impl_->changed();
}
ColorScale HeatmapScene::scale() const noexcept { return impl_->scale; }

void HeatmapScene::set_clip_percentiles(double lo, double hi) {
  if (!(lo >= 0 && lo < hi && hi <= 100))
    throw usage_error("clip percentiles " + number(lo) + " / " + number(hi) + " must satisfy 0 <= lo < hi <= 100");
  impl_->lo_pct = lo;
  impl_->hi_pct = hi;
  impl_->changed();
}

void HeatmapScene::set_reduction(PyramidReduction reduction) {
  impl_->reduction = reduction;
  impl_->changed();
}
PyramidReduction HeatmapScene::reduction() const noexcept { return impl_->effective_reduction(); }

std::pair<double, double> HeatmapScene::color_range() const noexcept { return impl_->range(); }

void HeatmapScene::set_overlay_top_k(std::shared_ptr<const TensorPyramid> scores, double percent) {
  Impl& d = *impl_;
  if (!scores || !d.pyramid || scores->rows() != d.pyramid->rows() || scores->cols() != d.pyramid->cols())
    throw usage_error("the overlay's scores must have the heatmap's shape");
  if (!(percent > 0 && percent <= 100)) throw usage_error("top-k percent " + number(percent) + " is outside (0, 100]");
  d.overlay_threshold = scores->stats().percentile(100 - percent);
  d.topk_threshold = d.overlay_threshold;
  d.overlay_label = "top " + number(percent) + " %";
  d.overlay = std::move(scores);
  d.changed();
}

void HeatmapScene::set_overlay_mask(std::shared_ptr<const std::vector<std::uint8_t>> mask, const std::string& label) {
  Impl& d = *impl_;
  if (!d.pyramid || !mask || static_cast<std::int64_t>(mask->size()) != d.pyramid->rows() * d.pyramid->cols())
    throw usage_error("the overlay mask must have one byte per element of the heatmap");
  auto reader = [mask](std::int64_t first, std::span<float> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = (*mask)[static_cast<std::size_t>(first) + i] ? 1.0f : 0.0f;
  };
  d.overlay = std::make_shared<const TensorPyramid>(
      TensorPyramid::of_reader(reader, d.pyramid->rows(), d.pyramid->cols(), calling_thread()));
  d.overlay_threshold = 0.5f;
  d.topk_threshold.reset();
  d.overlay_label = label;
  d.changed();
}

void HeatmapScene::clear_overlay() {
  impl_->overlay.reset();
  impl_->topk_threshold.reset();
  impl_->changed();
}

void HeatmapScene::set_overlay_color(Rgb color, double opacity) {
  impl_->overlay_color = color;
  impl_->overlay_color_chosen = true;
  impl_->overlay_opacity = std::clamp(opacity, 0.0, 1.0);
  impl_->changed();
}
Rgb HeatmapScene::overlay_color() const noexcept { return impl_->overlay_color; }
double HeatmapScene::overlay_opacity() const noexcept { return impl_->overlay_opacity; }
std::optional<float> HeatmapScene::overlay_threshold() const noexcept { return impl_->topk_threshold; }

void HeatmapScene::set_view(double row0, double row1, double col0, double col1) {
  impl_->window = {row0, row1, col0, col1};
  impl_->clamp_window();
  impl_->changed();
}

void HeatmapScene::reset_view() {
  const TensorPyramid* p = impl_->pyramid.get();
  impl_->window = p ? MatrixWindow{0, static_cast<double>(p->rows()), 0, static_cast<double>(p->cols())} : MatrixWindow{};
  impl_->changed();
}

MatrixWindow HeatmapScene::view() const noexcept { return impl_->window; }

void HeatmapScene::zoom(double factor, int x, int y) {
  Impl& d = *impl_;
  if (!d.pyramid || !(factor > 0) || !std::isfinite(factor)) return;
  const PixelRect p = d.plot();
  MatrixWindow& w = d.window;
  // The point under the pointer (clamped into the plot) stays where it is.
  const double fx = std::clamp((x - p.x + 0.5) / p.width, 0.0, 1.0);
  const double fy = std::clamp((y - p.y + 0.5) / p.height, 0.0, 1.0);
  auto axis = [factor](double& a, double& b, double f, double extent, int pixels) {
    const double at = a + f * (b - a);
    const double span = std::clamp((b - a) / factor, std::min(extent, pixels / kMaxPixelsPerElement), extent);
    a = std::clamp(at - f * span, 0.0, extent - span);
    b = a + span;
  };
  axis(w.row0, w.row1, fy, static_cast<double>(d.pyramid->rows()), p.height);
  axis(w.col0, w.col1, fx, static_cast<double>(d.pyramid->cols()), p.width);
  d.changed();
}

void HeatmapScene::pan(int dx, int dy) {
  Impl& d = *impl_;
  if (!d.pyramid) return;
  const PixelRect p = d.plot();
  MatrixWindow& w = d.window;
  const double dc = dx * (w.col1 - w.col0) / p.width, dr = dy * (w.row1 - w.row0) / p.height;
  w.col0 -= dc;
  w.col1 -= dc;
  w.row0 -= dr;
  w.row1 -= dr;
  d.clamp_window();
  d.changed();
}

PixelRect HeatmapScene::plot_rect() const { return impl_->plot(); }

std::optional<Readout> HeatmapScene::readout_at(int x, int y) const {
  const Impl& d = *impl_;
  if (!d.pyramid) return std::nullopt;
  const PixelRect p = d.plot();
  if (!p.contains(x, y)) return std::nullopt;
  const MatrixWindow& w = d.window;
  // The element under the pixel's centre, as the magnified image shows it.
  const double r = w.row0 + (w.row1 - w.row0) * (y - p.y + 0.5) / p.height;
  const double c = w.col0 + (w.col1 - w.col0) * (x - p.x + 0.5) / p.width;
  if (r < 0 || c < 0 || r >= static_cast<double>(d.pyramid->rows()) || c >= static_cast<double>(d.pyramid->cols()))
    return std::nullopt;
  Readout out;
  out.row = static_cast<std::int64_t>(r);
  out.col = static_cast<std::int64_t>(c);
  out.value = d.pyramid->value_at(out.row, out.col);
  return out;
}

void HeatmapScene::set_hover_callback(std::function<void(const std::optional<Readout>&)> callback) {
  impl_->hover_callback = std::move(callback);
}

void HeatmapScene::on_attach(vtkRenderWindow* window) {
  impl_->dirty = true;
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (iren) iren->SetInteractorStyle(impl_->style);
}

void HeatmapScene::on_scale(double scale) {
  // Margins and text follow the window's DPI by themselves; lines are drawn in pixels.
  impl_->line_scale = scale;
  impl_->dirty = true;
}

void HeatmapScene::on_detach(vtkRenderWindow* window) {
  impl_->show_readout(std::nullopt);
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (iren && iren->GetInteractorStyle() == impl_->style.GetPointer()) iren->SetInteractorStyle(nullptr);
}

}  // namespace paramscope::figures
