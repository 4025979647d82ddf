#include "paramscope/figures/surface_scene.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>

#include <vtkActor.h>
#include <vtkActor2D.h>
#include <vtkCallbackCommand.h>
#include <vtkCamera.h>
#include <vtkCellArray.h>
#include <vtkCoordinate.h>
#include <vtkFloatArray.h>
#include <vtkInteractorStyleTrackballCamera.h>
#include <vtkLight.h>
#include <vtkLookupTable.h>
#include <vtkMatrix4x4.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkPolyDataMapper2D.h>
#include <vtkProperty.h>
#include <vtkProperty2D.h>
#include <vtkRenderWindow.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>
#include <vtkScalarBarActor.h>
#include <vtkSmartPointer.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>
#include <vtkUnsignedCharArray.h>

#include "image_scene_style.h"
#include "paramscope/error.h"
#include "paramscope/figures/palette.h"

namespace paramscope::figures {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180;
// The light shines straight down: flat parts keep their colormap colour exactly from any side
// (ambient + diffuse = 1), slopes darken with their steepness.
constexpr double kAmbient = 0.3, kDiffuse = 0.7;

using detail::set_text_color;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v == 0 ? 0.0 : v);  // no "-0"
  return buf;
}

// Mouse input: VTK's trackball camera (left drag rotates, wheel and right drag zoom, middle drag
// pans), without its key bindings (quit, wireframe, stereo).
class SurfaceStyle : public vtkInteractorStyleTrackballCamera {
public:
  static SurfaceStyle* New();
  vtkTypeMacro(SurfaceStyle, vtkInteractorStyleTrackballCamera)
  void OnChar() override {}
  void OnKeyPress() override {}
};
vtkStandardNewMacro(SurfaceStyle);

struct Vec3 {
  double x, y, z;
};

// A rectangle of the window in pixels, origin at the top-left.
struct Rect {
  int x, y, width, height;
};

// Nice tick positions (1, 2 or 5 x 10^k apart) inside [lo, hi], about `count` of them;
// integer_only keeps steps of at least 1 (element indices).
std::vector<double> nice_ticks(double lo, double hi, int count, bool integer_only) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, count);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  if (integer_only) step = std::max(1.0, std::round(step));
  std::vector<double> ticks;
  const double eps = step * 1e-9;
  for (double t = std::ceil((lo - eps) / step) * step; t <= hi + eps; t += step) ticks.push_back(std::abs(t) < eps ? 0 : t);
  return ticks;
}

}  // namespace

struct SurfaceScene::Impl {
  explicit Impl(SurfaceScene& s) : scene(s) {}

  SurfaceScene& scene;
  SurfaceGrid grid;
  std::string title;
  Colormap map = Colormap::Viridis;
  double height = 0.5;
  float zmin = 0, zmax = 1;  // finite value range (heights)

  vtkNew<vtkPolyData> surface;
  vtkNew<vtkPolyDataMapper> mapper;
  vtkNew<vtkActor> actor;
  vtkNew<vtkLookupTable> lut;
  vtkNew<vtkScalarBarActor> bar;
  vtkNew<vtkPolyData> axes;
  vtkNew<vtkPolyDataMapper2D> axes_mapper;
  vtkNew<vtkActor2D> axes_actor;
  std::vector<vtkSmartPointer<vtkTextActor>> labels;
  vtkNew<vtkTextActor> title_actor;
  vtkNew<SurfaceStyle> style;
  vtkNew<vtkCallbackCommand> before_render;
  unsigned long observer = 0;
  double line_scale = 1;

  // The camera's parallel scale at zoom 1 for the last layout; the window it was laid out for.
  // rendered: the camera's scale belongs to base_scale; until then set_camera's zoom is pending.
  double base_scale = 1, pending_zoom = 1;
  int laid_w = 0, laid_h = 0;
  double laid_dpi = 0;
  bool rendered = false;
  int last_w = 0, last_h = 0;  // the window last rendered (pixel_of)

  bool has_grid() const { return grid.rows > 0 && grid.cols > 0; }
  vtkCamera* camera() const { return scene.renderer()->GetActiveCamera(); }

  // --- geometry ---------------------------------------------------------------------------------
  // The plot area (top-left origin) of a w x h window at scale s: the colorbar takes the right.
  static Rect plot_for(int w, int h, double s, bool titled) {
    const int top = static_cast<int>(std::lround((titled ? 36 : 12) * s));
    const int left = static_cast<int>(std::lround(16 * s)), bottom = static_cast<int>(std::lround(12 * s));
    const int right = static_cast<int>(std::lround(120 * s));
    return {left, top, std::max(1, w - left - right), std::max(1, h - top - bottom)};
  }

  // Source coordinate spans of the axes (a single row or column spans one unit around it).
  static std::pair<double, double> span(double first, double last) {
    return first == last ? std::pair{first - 0.5, last + 0.5} : std::pair{first, last};
  }
  // World coordinates: columns along x in [0, 1], rows along y from 1 (first) down to 0, values
  // along z in [0, height].
  double world_x(double col) const {
    const auto [a, b] = span(grid.col_first, grid.col_last);
    return (col - a) / (b - a);
  }
  double world_y(double row) const {
    const auto [a, b] = span(grid.row_first, grid.row_last);
    return 1 - (row - a) / (b - a);
  }
  std::pair<double, double> zrange() const {
    return zmin < zmax ? std::pair<double, double>{zmin, zmax} : std::pair<double, double>{zmin - 0.5, zmin + 0.5};
  }
  double world_z(double v) const {
    const auto [a, b] = zrange();
    return (v - a) / (b - a) * height;
  }

  std::pair<double, double> range() const {
    if (!has_grid() || !(zmin <= zmax)) return {0, 1};
    double lo = zmin, hi = zmax;
    if (is_diverging(map) && lo < 0 && hi > 0) {
      const double m = std::max(-lo, hi);
      lo = -m;
      hi = m;
    }
    return {lo, hi};
  }

  // --- the surface --------------------------------------------------------------------------------
  void build_surface() {
    actor->SetVisibility(has_grid());
    if (!has_grid()) return;
    // A single row or column is drawn as a strip across the footprint (the line doubled).
    const std::int64_t ny = std::max<std::int64_t>(grid.rows, 2), nx = std::max<std::int64_t>(grid.cols, 2);
    const auto value = [&](std::int64_t iy, std::int64_t ix) {
      const std::int64_t r = grid.rows > 1 ? iy : 0, c = grid.cols > 1 ? ix : 0;
      return grid.values[static_cast<std::size_t>(r * grid.cols + c)];
    };
    const auto [lo, hi] = range();
    const double cspan = hi - lo;
    vtkNew<vtkPoints> points;
    points->SetDataTypeToFloat();
    points->SetNumberOfPoints(nx * ny);
    vtkNew<vtkUnsignedCharArray> colors;
    colors->SetNumberOfComponents(3);
    colors->SetNumberOfTuples(nx * ny);
    std::vector<double> z(static_cast<std::size_t>(nx * ny), std::numeric_limits<double>::quiet_NaN());
    for (std::int64_t iy = 0; iy < ny; ++iy)
      for (std::int64_t ix = 0; ix < nx; ++ix) {
        const vtkIdType id = iy * nx + ix;
        const float v = value(iy, ix);
        const double x = static_cast<double>(ix) / static_cast<double>(nx - 1);
        const double y = 1 - static_cast<double>(iy) / static_cast<double>(ny - 1);
        Rgb c = palette::background;
        if (std::isfinite(v)) {
          z[static_cast<std::size_t>(id)] = world_z(v);
          c = colormap_color(map, cspan > 0 ? (v - lo) / cspan : 0.0);
        }
        points->SetPoint(id, x, y, std::isfinite(v) ? z[static_cast<std::size_t>(id)] : 0.0);
        const unsigned char rgb[3] = {c.r, c.g, c.b};
        colors->SetTypedTuple(id, rgb);
      }
    // Normals from central differences (one-sided at edges and beside holes): a flat part's
    // normal is exactly vertical, so under the light from above it shows its colormap colour.
    vtkNew<vtkFloatArray> normals;
    normals->SetNumberOfComponents(3);
    normals->SetNumberOfTuples(nx * ny);
    const double dx = 1.0 / static_cast<double>(nx - 1), dy = 1.0 / static_cast<double>(ny - 1);
    auto at = [&](std::int64_t iy, std::int64_t ix) { return z[static_cast<std::size_t>(iy * nx + ix)]; };
    auto slope = [](double minus, double centre, double plus, double step) {
      if (std::isfinite(minus) && std::isfinite(plus)) return (plus - minus) / (2 * step);
      if (std::isfinite(plus)) return (plus - centre) / step;
      if (std::isfinite(minus)) return (centre - minus) / step;
      return 0.0;
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::int64_t iy = 0; iy < ny; ++iy)
      for (std::int64_t ix = 0; ix < nx; ++ix) {
        const double c = at(iy, ix);
        const double gx = slope(ix > 0 ? at(iy, ix - 1) : nan, c, ix + 1 < nx ? at(iy, ix + 1) : nan, dx);
        // y falls as iy grows.
        const double gy = -slope(iy > 0 ? at(iy - 1, ix) : nan, c, iy + 1 < ny ? at(iy + 1, ix) : nan, dy);
        const double n = std::sqrt(gx * gx + gy * gy + 1);
        const float v[3] = {static_cast<float>(-gx / n), static_cast<float>(-gy / n), static_cast<float>(1 / n)};
        normals->SetTypedTuple(iy * nx + ix, v);
      }
    vtkNew<vtkCellArray> quads;
    quads->AllocateEstimate((nx - 1) * (ny - 1), 4);
    for (std::int64_t iy = 0; iy + 1 < ny; ++iy)
      for (std::int64_t ix = 0; ix + 1 < nx; ++ix) {
        const vtkIdType ids[4] = {iy * nx + ix, (iy + 1) * nx + ix, (iy + 1) * nx + ix + 1, iy * nx + ix + 1};
        if (std::all_of(std::begin(ids), std::end(ids), [&](vtkIdType i) { return std::isfinite(z[static_cast<std::size_t>(i)]); }))
          quads->InsertNextCell(4, ids);
      }
    surface->Initialize();
    surface->SetPoints(points);
    surface->SetPolys(quads);
    surface->GetPointData()->SetScalars(colors);
    surface->GetPointData()->SetNormals(normals);
    surface->Modified();

    const auto& table = colormap_table(map);
    for (int i = 0; i < 256; ++i) {
      const Rgb c = table[static_cast<std::size_t>(i)];
      lut->SetTableValue(i, c.r / 255.0, c.g / 255.0, c.b / 255.0, 1.0);
    }
    lut->SetRange(lo, hi > lo ? hi : lo + 1);
    lut->Modified();
  }

  // --- camera ----------------------------------------------------------------------------------
  Vec3 centre() const { return {0.5, 0.5, height / 2}; }

  void point_camera(double az, double el, double zoom) {
    vtkCamera* cam = camera();
    const double a = az * kDeg, e = el * kDeg;
    const Vec3 c = centre();
    const Vec3 d{std::cos(e) * std::cos(a), std::cos(e) * std::sin(a), std::sin(e)};
    constexpr double kDistance = 10;  // any distance: the projection is parallel
    cam->ParallelProjectionOn();
    cam->SetFocalPoint(c.x, c.y, c.z);
    cam->SetPosition(c.x + kDistance * d.x, c.y + kDistance * d.y, c.z + kDistance * d.z);
    // The screen's up: vertical, tilted back as the view rises (horizontal, away from the viewer,
    // when looking straight down).
    cam->SetViewUp(-std::sin(e) * std::cos(a), -std::sin(e) * std::sin(a), std::cos(e));
    cam->SetParallelScale(base_scale / zoom);
  }

  SurfaceCamera camera_now() const {
    vtkCamera* cam = camera();
    double p[3], f[3], up[3];
    cam->GetPosition(p);
    cam->GetFocalPoint(f);
    cam->GetViewUp(up);
    Vec3 d{p[0] - f[0], p[1] - f[1], p[2] - f[2]};
    const double len = std::sqrt(d.x * d.x + d.y * d.y + d.z * d.z);
    d = {d.x / len, d.y / len, d.z / len};
    SurfaceCamera out;
    out.elevation = std::asin(std::clamp(d.z, -1.0, 1.0)) / kDeg;
    const double horizontal = std::hypot(d.x, d.y);
    // Looking straight down or up the azimuth shows in the screen's up instead.
    out.azimuth = horizontal > 1e-9 ? std::atan2(d.y, d.x) / kDeg
                                    : std::atan2(-up[1] * d.z, -up[0] * d.z) / kDeg;
    out.zoom = base_scale / cam->GetParallelScale();
    return out;
  }

  // Parallel scale (half the window's height in world units) at which the box around the
  // surface, seen as the camera looks now, fills the plot area but for room for the axis labels.
  double fit_scale(int w, int h, double s) const {
    const Rect p = plot_for(w, h, s, !title.empty());
    const double room_w = std::max(10.0, p.width - 120 * s), room_h = std::max(10.0, p.height - 56 * s);
    vtkCamera* cam = camera();
    double up[3], dop[3];
    cam->GetViewUp(up);
    cam->GetDirectionOfProjection(dop);
    const double right[3] = {dop[1] * up[2] - dop[2] * up[1], dop[2] * up[0] - dop[0] * up[2],
                             dop[0] * up[1] - dop[1] * up[0]};
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    for (double x : {0.0, 1.0})
      for (double y : {0.0, 1.0})
        for (double z : {0.0, height}) {
          const double u = x * right[0] + y * right[1] + z * right[2], v = x * up[0] + y * up[1] + z * up[2];
          x0 = std::min(x0, u);
          x1 = std::max(x1, u);
          y0 = std::min(y0, v);
          y1 = std::max(y1, v);
        }
    const double per_pixel = std::max((x1 - x0) / room_w, (y1 - y0) / room_h);
    return per_pixel * h / 2;
  }

  // The projection of world point v in a w x h window: VTK display pixels (origin bottom-left).
  std::array<double, 2> project(const Vec3& v, int w, int h) const {
    vtkMatrix4x4* m = camera()->GetCompositeProjectionTransformMatrix(static_cast<double>(w) / h, -1, 1);
    const double in[4] = {v.x, v.y, v.z, 1};
    double out[4];
    m->MultiplyPoint(in, out);
    return {(out[0] / out[3] + 1) / 2 * w, (out[1] / out[3] + 1) / 2 * h};
  }

  // --- layout before every render ------------------------------------------------------------------
  void before(int w, int h, double s) {
    if (w != laid_w || h != laid_h || s != laid_dpi) {
      // Keep the zoom (wheel included) as the window changes size or is exported.
      const double zoom = rendered ? base_scale / camera()->GetParallelScale() : pending_zoom;
      base_scale = fit_scale(w, h, s);
      camera()->SetParallelScale(base_scale / zoom);
      laid_w = w;
      laid_h = h;
      laid_dpi = s;
    }
    rendered = true;
    last_w = w;
    last_h = h;
    // The focal point goes to the plot area's centre (the colorbar keeps the right side).
    const Rect p = plot_for(w, h, s, !title.empty());
    const double cx = (p.x + p.width / 2.0) / w * 2 - 1, cy = 1 - (p.y + p.height / 2.0) / h * 2;
    camera()->SetWindowCenter(-cx, -cy);
    scene.renderer()->ResetCameraClippingRange();
    place_actors(w, h, s, p);
  }

  void place_actors(int w, int h, double s, const Rect& p) {
    title_actor->SetInput(title.empty() ? "no data" : title.c_str());
    title_actor->SetPosition(w / 2.0, h - 10 * s);
    bar->SetVisibility(has_grid());
    axes_actor->SetVisibility(has_grid());
    const int bottom = h - p.y - p.height;
    const double bar_h = p.height * 0.8;
    detail::place_colorbar(bar, p.x + p.width, bottom + (p.height - bar_h) / 2, bar_h, w, h, s);
    place_axes(w, h, s);
  }

  // Axes on the box's edges nearest the viewer, as matplotlib draws them: columns and rows along
  // the floor's front edges, values up the corner furthest left on screen. Tick labels and titles
  // are 2-D text placed at the projected points, so they stay upright and export as text.
  void place_axes(int w, int h, double s) {
    vtkNew<vtkPoints> points;
    vtkNew<vtkCellArray> lines;
    std::size_t used = 0;
    for (auto& l : labels) l->SetVisibility(false);
    if (!has_grid()) {
      axes->SetPoints(points);
      axes->SetLines(lines);
      return;
    }
    auto line = [&](std::array<double, 2> a, std::array<double, 2> b) {
      const vtkIdType ids[2] = {points->InsertNextPoint(a[0], a[1], 0), points->InsertNextPoint(b[0], b[1], 0)};
      lines->InsertNextCell(2, ids);
    };
    auto label = [&](const std::string& text, std::array<double, 2> at, std::array<double, 2> dir, int size, bool bold) {
      if (used == labels.size()) {
        auto a = vtkSmartPointer<vtkTextActor>::New();
        a->GetPositionCoordinate()->SetCoordinateSystemToDisplay();
        set_text_color(a->GetTextProperty());
        scene.renderer()->AddActor2D(a);
        labels.push_back(a);
      }
      vtkTextActor* a = labels[used++];
      vtkTextProperty* t = a->GetTextProperty();
      t->SetFontSize(size);
      t->SetBold(bold);
      a->SetInput(text.c_str());
      // Text sits on the side the direction points to.
      if (std::abs(dir[0]) > 2 * std::abs(dir[1])) {
        dir[0] > 0 ? t->SetJustificationToLeft() : t->SetJustificationToRight();
        t->SetVerticalJustificationToCentered();
      } else {
        std::abs(dir[0]) < 0.5 * std::abs(dir[1]) ? t->SetJustificationToCentered()
        : dir[0] > 0                              ? t->SetJustificationToLeft()
                                                  : t->SetJustificationToRight();
        dir[1] > 0 ? t->SetVerticalJustificationToBottom() : t->SetVerticalJustificationToTop();
      }
      a->SetPosition(at[0], at[1]);
      a->SetVisibility(true);
    };
    auto screen_dir = [&](const Vec3& from, const Vec3& outward) {
      const auto a = project(from, w, h);
      const auto b = project({from.x + outward.x, from.y + outward.y, from.z + outward.z}, w, h);
      double dx = b[0] - a[0], dy = b[1] - a[1];
      const double n = std::hypot(dx, dy);
      if (n < 1e-9) return std::array<double, 2>{0, -1};
      return std::array<double, 2>{dx / n, dy / n};
    };
    const double tick = 5 * s, gap = 4 * s;
    // One axis: world points along `edge` (parameter in source units), outward direction.
    auto axis = [&](auto world_of, double lo, double hi, const std::vector<std::pair<double, std::string>>& ticks,
                    const Vec3& outward, const std::string& title_text, double title_gap, bool title_at_end = false) {
      const Vec3 a = world_of(lo), b = world_of(hi);
      line(project(a, w, h), project(b, w, h));
      for (const auto& [t, text] : ticks) {
        const Vec3 v = world_of(t);
        const auto at = project(v, w, h);
        const auto dir = screen_dir(v, outward);
        line(at, {at[0] + dir[0] * tick, at[1] + dir[1] * tick});
        label(text, {at[0] + dir[0] * (tick + gap), at[1] + dir[1] * (tick + gap)}, dir, 11, false);
      }
      if (title_at_end) {  // above the axis' top end, as a vertical axis is titled
        const auto top = project(b, w, h);
        label(title_text, {top[0], top[1] + 10 * s}, {0, 1}, 12, true);
        return;
      }
      const Vec3 mid{(a.x + b.x) / 2, (a.y + b.y) / 2, (a.z + b.z) / 2};
      const auto at = project(mid, w, h);
      const auto dir = screen_dir(mid, outward);
      label(title_text, {at[0] + dir[0] * title_gap, at[1] + dir[1] * title_gap}, dir, 12, true);
    };
    const SurfaceCamera cam = camera_now();
    const double a = cam.azimuth * kDeg;
    // The floor's edges nearer the viewer (the top ones when looking from below).
    const double zb = cam.elevation >= 0 ? 0 : height;
    const double xf = std::cos(a) > 1e-9 ? 1 : 0, yf = std::sin(a) > 1e-9 ? 1 : 0;
    auto numbered = [](const std::vector<double>& ts) {
      std::vector<std::pair<double, std::string>> out;
      for (double t : ts) out.emplace_back(t, number(t));
      return out;
    };
    // Columns: along x, on the floor's edge at y = yf.
    {
      const auto [lo, hi] = span(grid.col_first, grid.col_last);
      const auto ticks = numbered(nice_ticks(grid.col_first, grid.col_last, 5, true));
      axis([&](double c) { return Vec3{world_x(c), yf, zb}; }, lo, hi, ticks, {0, yf > 0 ? 1.0 : -1.0, 0},
           grid.col_axis, 34 * s);
    }
    // Rows: along y, on the floor's edge at x = xf.
    {
      const auto [lo, hi] = span(grid.row_first, grid.row_last);
      std::vector<std::pair<double, std::string>> ticks;
      if (!grid.row_labels.empty() && static_cast<std::int64_t>(grid.row_labels.size()) == grid.rows) {
        const std::int64_t step = std::max<std::int64_t>(1, (grid.rows + 7) / 8);
        for (std::int64_t r = 0; r < grid.rows; r += step)
          ticks.emplace_back(grid.row_first + (grid.rows > 1 ? (grid.row_last - grid.row_first) * static_cast<double>(r) /
                                                                    static_cast<double>(grid.rows - 1)
                                                              : 0),
                             grid.row_labels[static_cast<std::size_t>(r)]);
      } else {
        ticks = numbered(nice_ticks(grid.row_first, grid.row_last, 5, true));
      }
      std::size_t longest = 0;
      for (const auto& t : ticks) longest = std::max(longest, t.second.size());
      axis([&](double r) { return Vec3{xf, world_y(r), zb}; }, lo, hi, ticks, {xf > 0 ? 1.0 : -1.0, 0, 0},
           grid.row_axis, (18 + 6.5 * static_cast<double>(std::min<std::size_t>(longest, 12))) * s);
    }
    // Values: up the vertical edge at the floor corner furthest left on screen, labels outward
    // from the footprint. Hidden when looking straight down (it would be a point).
    if (std::abs(cam.elevation) < 89) {
      std::array<double, 2> best{0, 0};
      double left = std::numeric_limits<double>::infinity();
      for (double x : {0.0, 1.0})
        for (double y : {0.0, 1.0}) {
          const double px = project({x, y, zb}, w, h)[0];
          if (px < left) {
            left = px;
            best = {x, y};
          }
        }
      const auto [lo, hi] = zrange();
      const Vec3 outward{best[0] > 0 ? 1.0 : -1.0, best[1] > 0 ? 1.0 : -1.0, 0};
      axis([&](double v) { return Vec3{best[0], best[1], world_z(v)}; }, lo, hi, numbered(nice_ticks(lo, hi, 5, false)),
           outward, grid.value_axis, 0, true);
    }
    axes->SetPoints(points);
    axes->SetLines(lines);
    axes_actor->GetProperty()->SetLineWidth(static_cast<float>(line_scale));
  }

};

SurfaceScene::SurfaceScene() : impl_(std::make_unique<Impl>(*this)) {
  Impl& d = *impl_;
  d.mapper->SetInputData(d.surface);
  d.mapper->SetScalarModeToUsePointData();
  d.mapper->SetColorModeToDirectScalars();
  d.mapper->ScalarVisibilityOn();
  d.actor->SetMapper(d.mapper);
  vtkProperty* prop = d.actor->GetProperty();
  prop->SetAmbient(kAmbient);
  prop->SetDiffuse(kDiffuse);
  prop->SetSpecular(0);
  prop->SetInterpolationToGouraud();

  detail::style_colorbar(d.bar, d.lut);
  detail::setup_axis_lines(d.axes, d.axes_mapper, d.axes_actor);
  detail::style_title(d.title_actor);

  vtkRenderer* r = renderer();
  vtkNew<vtkLight> light;
  light->SetLightTypeToSceneLight();
  light->SetPositional(false);
  light->SetPosition(0.5, 0.5, 10);
  light->SetFocalPoint(0.5, 0.5, 0);
  r->AutomaticLightCreationOff();
  r->AddLight(light);
  r->TwoSidedLightingOn();  // the underside, seen from below, is lit the same
  r->AddActor(d.actor);
  r->AddActor2D(d.bar);
  r->AddActor2D(d.axes_actor);
  r->AddActor2D(d.title_actor);

  d.observer = detail::call_before_render(r, d.before_render, &d);
  reset_camera();
  clear();
}

SurfaceScene::~SurfaceScene() {
  detach();
  renderer()->RemoveObserver(impl_->observer);
}

void SurfaceScene::set_grid(SurfaceGrid grid, const std::string& title) {
  if (grid.rows < 1 || grid.cols < 1 || grid.rows > kMaxSide || grid.cols > kMaxSide)
    throw usage_error("surface: a grid of " + std::to_string(grid.rows) + " x " + std::to_string(grid.cols) +
                      " points is outside 1..." + std::to_string(kMaxSide) + " a side (reduce it first)");
  if (static_cast<std::int64_t>(grid.values.size()) != grid.rows * grid.cols)
    throw usage_error("surface: " + std::to_string(grid.values.size()) + " values for a grid of " +
                      std::to_string(grid.rows) + " x " + std::to_string(grid.cols));
  Impl& d = *impl_;
  d.grid = std::move(grid);
  d.title = title;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (float v : d.grid.values)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  d.zmin = lo <= hi ? lo : 0;  // nothing finite: heights and colours over [0, 1]
  d.zmax = lo <= hi ? hi : 1;
  d.build_surface();
  d.laid_w = 0;  // the title may have changed the layout
}

void SurfaceScene::clear() {
  Impl& d = *impl_;
  d.grid = SurfaceGrid{};
  d.title.clear();
  d.zmin = 0;
  d.zmax = 1;
  d.build_surface();
  d.laid_w = 0;
}

const SurfaceGrid& SurfaceScene::grid() const noexcept { return impl_->grid; }

void SurfaceScene::set_colormap(Colormap map) {
  impl_->map = map;
  impl_->build_surface();
}
Colormap SurfaceScene::colormap() const noexcept { return impl_->map; }

std::pair<double, double> SurfaceScene::color_range() const noexcept { return impl_->range(); }

void SurfaceScene::set_height_fraction(double fraction) {
  if (!(fraction > 0 && fraction <= 10)) throw usage_error("surface: height fraction " + number(fraction) + " is outside (0, 10]");
  Impl& d = *impl_;
  const SurfaceCamera c = d.camera_now();
  d.height = fraction;
  d.build_surface();
  // The box changed: aim at its new centre and fit it again, keeping the view.
  d.laid_w = 0;
  d.pending_zoom = c.zoom;
  d.rendered = false;
  d.point_camera(c.azimuth, c.elevation, c.zoom);
}
double SurfaceScene::height_fraction() const noexcept { return impl_->height; }

void SurfaceScene::set_camera(double azimuth_deg, double elevation_deg, double zoom) {
  if (!std::isfinite(azimuth_deg) || !(elevation_deg >= -90 && elevation_deg <= 90) || !(zoom > 0 && zoom <= 1000))
    throw usage_error("surface: camera azimuth " + number(azimuth_deg) + ", elevation " + number(elevation_deg) +
                      ", zoom " + number(zoom) + ": elevation must be in -90..90 and zoom in (0, 1000]");
  Impl& d = *impl_;
  d.pending_zoom = zoom;
  d.rendered = false;  // the next layout fits the scale for this zoom
  d.laid_w = 0;
  d.point_camera(azimuth_deg, elevation_deg, zoom);
}

void SurfaceScene::reset_camera() {
  const SurfaceCamera c;
  set_camera(c.azimuth, c.elevation, c.zoom);
}

SurfaceCamera SurfaceScene::camera() const {
  SurfaceCamera c = impl_->camera_now();
  if (!impl_->rendered) c.zoom = impl_->pending_zoom;
  return c;
}

std::optional<std::pair<double, double>> SurfaceScene::pixel_of(double row, double col) const {
  const Impl& d = *impl_;
  if (!d.has_grid() || d.last_w <= 0) return std::nullopt;
  const SurfaceGrid& g = d.grid;
  const auto clamp_index = [](double v, std::int64_t n) {
    return static_cast<std::int64_t>(std::clamp(std::llround(v), 0LL, static_cast<long long>(n - 1)));
  };
  const float v = g.values[static_cast<std::size_t>(clamp_index(row, g.rows) * g.cols + clamp_index(col, g.cols))];
  const double x = g.cols > 1 ? col / static_cast<double>(g.cols - 1) : 0.5;
  const double y = 1 - (g.rows > 1 ? row / static_cast<double>(g.rows - 1) : 0.5);
  const auto p = d.project({x, y, std::isfinite(v) ? d.world_z(v) : 0.0}, d.last_w, d.last_h);
  return std::pair<double, double>{p[0], d.last_h - p[1]};
}

void SurfaceScene::on_attach(vtkRenderWindow* window) {
  impl_->laid_w = 0;
  if (vtkRenderWindowInteractor* iren = window->GetInteractor()) iren->SetInteractorStyle(impl_->style);
}

void SurfaceScene::on_detach(vtkRenderWindow* window) {
  vtkRenderWindowInteractor* iren = window->GetInteractor();
  if (iren && iren->GetInteractorStyle() == impl_->style.GetPointer()) iren->SetInteractorStyle(nullptr);
}

void SurfaceScene::on_scale(double scale) {
  impl_->line_scale = scale;
  impl_->laid_w = 0;
}

}  // namespace paramscope::figures
