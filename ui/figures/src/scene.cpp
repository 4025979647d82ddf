#include "paramscope/figures/scene.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include <vtkChart.h>
#include <vtkContextActor.h>
#include <vtkContextScene.h>
#include <vtkGL2PSExporter.h>
#include <vtkPropCollection.h>
#include <vtkAxis.h>
#include <vtkDoubleArray.h>
#include <vtkStringArray.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkProp3D.h>
#include <vtkUnsignedCharArray.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <vtkWeakPointer.h>
#include <vtkWindowToImageFilter.h>

#include "offscreen_context.h"
#include "paramscope/error.h"
#include "paramscope/figures/palette.h"

namespace paramscope::figures {
namespace {

namespace fs = std::filesystem;

enum class Format { Png, Svg, Pdf };

constexpr int kMaxPixels = 16384;
constexpr double kMinDpi = 10, kMaxDpi = 2400;
// SVG and PDF pages are measured in points: GL2PS writes one window pixel as one point.
constexpr double kPointsPerInch = 72;
// VTK sizes text in points at the window's DPI; 72 makes a point one pixel (the on-screen look).
constexpr double kVtkBaseDpi = 72;

Format format_of(const fs::path& file) {
  std::string ext = file.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".png") return Format::Png;
  if (ext == ".svg") return Format::Svg;
  if (ext == ".pdf") return Format::Pdf;
  throw usage_error(file.string() + ": cannot tell the figure format from the extension '" + file.extension().string() +
                    "' (use .png, .svg or .pdf)");
}

// What is drawn: a window of width x height pixels, with text and lines `scale` times their
// on-screen size.
struct Plan {
  Format format;
  int width, height;
  double scale;
};

std::string number_text(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string size_text(double w, double h) { return number_text(w) + "x" + number_text(h); }

void check_pixels(const fs::path& file, double w, double h) {
  if (!(w >= 1 && h >= 1 && w <= kMaxPixels && h <= kMaxPixels))
    throw usage_error(file.string() + ": image size " + size_text(w, h) + " is outside 1.." + std::to_string(kMaxPixels));
}

Plan plan_for(const fs::path& file, Format format, const ExportOptions& o) {
  if (!(o.dpi >= kMinDpi && o.dpi <= kMaxDpi))
    throw usage_error(file.string() + ": dpi " + number_text(o.dpi) + " is outside 10..2400");
  double w_in = o.width_in, h_in = o.height_in;
  if (o.width_px != 0 || o.height_px != 0) {
    check_pixels(file, o.width_px, o.height_px);
    w_in = o.width_px / o.dpi;
    h_in = o.height_px / o.dpi;
  } else if (!(w_in > 0 && h_in > 0 && std::isfinite(w_in) && std::isfinite(h_in))) {
    throw usage_error(file.string() + ": figure size " + size_text(w_in, h_in) + " inches is not positive");
  }
  Plan plan{format, 0, 0, 0};
  if (format == Format::Png) {
    if (o.width_px != 0) {
      plan.width = o.width_px;
      plan.height = o.height_px;
    } else {
      const double w = std::round(w_in * o.dpi), h = std::round(h_in * o.dpi);
      check_pixels(file, w, h);
      plan.width = static_cast<int>(w);
      plan.height = static_cast<int>(h);
    }
    plan.scale = o.dpi / ExportOptions::kReferenceDpi;
  } else {
    const double w = std::round(w_in * kPointsPerInch), h = std::round(h_in * kPointsPerInch);
    check_pixels(file, w, h);
    plan.width = static_cast<int>(w);
    plan.height = static_cast<int>(h);
    plan.scale = kPointsPerInch / ExportOptions::kReferenceDpi;
  }
  return plan;
}

bool use_headless(const fs::path& file, ExportOptions::Backend backend) {
  if (backend == ExportOptions::Backend::Automatic) {
    const char* forced = std::getenv("PARAMSCOPE_HEADLESS");
    if (forced && std::string(forced) == "1") return true;
    if (forced && std::string(forced) == "0") backend = ExportOptions::Backend::Window;
  }
  if (backend == ExportOptions::Backend::Headless) return true;
  const bool x = detail::shared_x_display() != nullptr;
  if (backend == ExportOptions::Backend::Automatic) return !x;
  // VTK's X11 window aborts the process when it cannot reach a display; fail politely instead.
  if (!x) {
    const char* display = std::getenv("DISPLAY");
    throw unsupported(file, display && *display
                                ? "cannot open the X display " + std::string(display) + " for OpenGL"
                                : std::string("rendering in a window needs an X display (set DISPLAY or run under "
                                              "xvfb-run, or render headless)"));
  }
  return false;
}

// A name beside the target that no other save (in this or another process) uses.
fs::path temporary_beside(const fs::path& file) {
  static std::atomic<unsigned> counter{0};
  return file.parent_path() / ("." + file.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                               std::to_string(counter.fetch_add(1)));
}

// Removes the temporary file unless it was renamed into place.
struct TemporaryFile {
  fs::path path;
  ~TemporaryFile() {
    std::error_code ec;
    if (!path.empty()) fs::remove(path, ec);
  }
};

void write_png(vtkRenderWindow* window, const fs::path& file, const fs::path& temp) {
  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(window);
  grab->SetInputBufferTypeToRGB();
  grab->ReadFrontBufferOff();
  grab->ShouldRerenderOff();  // rendered just before, at the export's scale
  grab->Update();

  vtkNew<vtkPNGWriter> png;
  png->SetFileName(temp.string().c_str());
  png->SetInputConnection(grab->GetOutputPort());
  png->Write();
  if (const unsigned long code = png->GetErrorCode())
    throw io_error(file, "cannot write the PNG image (VTK error code " + std::to_string(code) + ")");
}

std::string base64(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (std::size_t i = 0; i < n; i += 3) {
    const unsigned v = static_cast<unsigned>(data[i]) << 16 | (i + 1 < n ? static_cast<unsigned>(data[i + 1]) << 8 : 0u) |
                       (i + 2 < n ? static_cast<unsigned>(data[i + 2]) : 0u);
    out += digits[v >> 18 & 63];
    out += digits[v >> 12 & 63];
    out += i + 1 < n ? digits[v >> 6 & 63] : '=';
    out += i + 2 < n ? digits[v & 63] : '=';
  }
  return out;
}

// The 3-D props of renderer (images, surfaces) drawn alone over the background, as a PNG in
// memory; empty when there are none. 2-D props are hidden meanwhile: they go into the file as
// vectors.
bool has_3d_props(vtkRenderer* renderer) {
  vtkPropCollection* props = renderer->GetViewProps();
  props->InitTraversal();
  while (vtkProp* prop = props->GetNextProp())
    if (prop->GetVisibility() && vtkProp3D::SafeDownCast(prop)) return true;
  return false;
}

std::string raster_of_3d_props(vtkRenderWindow* window, vtkRenderer* renderer) {
  if (!has_3d_props(renderer)) return {};
  std::vector<vtkProp*> hidden;
  vtkPropCollection* props = renderer->GetViewProps();
  props->InitTraversal();
  while (vtkProp* prop = props->GetNextProp())
    if (prop->GetVisibility() && !vtkProp3D::SafeDownCast(prop)) hidden.push_back(prop);
  for (vtkProp* prop : hidden) prop->VisibilityOff();
  window->Render();
  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(window);
  grab->SetInputBufferTypeToRGB();
  grab->ReadFrontBufferOff();
  grab->ShouldRerenderOff();
  grab->Update();
  for (vtkProp* prop : hidden) prop->VisibilityOn();
  vtkNew<vtkPNGWriter> png;
  png->WriteToMemoryOn();
  png->SetInputConnection(grab->GetOutputPort());
  png->Write();
  vtkUnsignedCharArray* bytes = png->GetResult();
  if (!bytes || bytes->GetNumberOfValues() == 0) return {};
  return base64(bytes->GetPointer(0), static_cast<std::size_t>(bytes->GetNumberOfValues()));
}

// GL2PS names the file itself: prefix + ".svg" / ".pdf".
void write_vector(vtkRenderWindow* window, vtkRenderer* renderer, Format format, const fs::path& file,
                  const fs::path& prefix, const fs::path& written) {
  // VTK's GL2PS is built without libpng: its SVG leaves raster parts out ("GL2PS must be compiled
  // with PNG support"), so they are rendered here and embedded as a PNG under the vectors. Its
  // PDF embeds them itself.
  const std::string raster = format == Format::Svg ? raster_of_3d_props(window, renderer) : std::string();

  vtkNew<vtkGL2PSExporter> gl2ps;
  gl2ps->SetRenderWindow(window);
  gl2ps->SetFilePrefix(prefix.string().c_str());
  if (format == Format::Svg) {
    gl2ps->SetFileFormatToSVG();
    gl2ps->CompressOff();  // a compressed SVG would be .svgz
  } else {
    gl2ps->SetFileFormatToPDF();
    // GL2PS's PDF text ignores alignment and rotation; outlines keep it where it was drawn.
    gl2ps->TextAsPathOn();
  }
  // The background and the 3-D props go in as one raster picture behind the vector 2-D parts
  // (VTK 9.1 always draws it; its GL2PS has no zlib, so in a PDF it is an uncompressed pixmap).
  gl2ps->DrawBackgroundOn();
  gl2ps->Write3DPropsAsRasterImageOn();
  gl2ps->SetSortToSimple();
  gl2ps->SetTitle(file.stem().string().c_str());
  // Lines were already scaled to points by on_scale(); GL2PS's default 5/7 would thin them again.
  gl2ps->SetLineWidthFactor(1.0f);
  gl2ps->SetPointSizeFactor(1.0f);
  gl2ps->SilentOn();
  gl2ps->Write();
  if (raster.empty()) return;

  std::string svg;
  {
    std::ifstream in(written, std::ios::binary);
    svg.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto group = svg.find("<g>\n");
  if (group == std::string::npos) throw io_error(file, "cannot place the raster image: GL2PS wrote no <g> element");
  const int* size = window->GetSize();
  const std::string image = "<image x=\"0\" y=\"0\" width=\"" + std::to_string(size[0]) + "\" height=\"" +
                            std::to_string(size[1]) + "\" preserveAspectRatio=\"none\" xlink:href=\"data:image/png;base64," +
                            raster + "\"/>\n";
  svg.insert(group + 4, image);
  std::ofstream out(written, std::ios::binary | std::ios::trunc);
  out.write(svg.data(), static_cast<std::streamsize>(svg.size()));
  if (!out.flush()) throw io_error(file, "cannot write the SVG file");
}

// Chart axes place a tick every 30 pixels or so: a 300-dpi figure would get three times the ticks
// of the 100-dpi one. For an export at `scale`, the charts' automatic ticks are taken from a
// render at the reference scale (window size / scale, 72 DPI) and kept while exporting.
// (Scaling the chart with a vtkContextTransform instead would keep every proportion, but VTK
// 9.1's vtkChartXY clips its plots to a rectangle in unscaled pixels.)
class ReferenceTicks {
public:
  ReferenceTicks(vtkRenderWindow* window, vtkRenderer* renderer, double scale, int width, int height) {
    if (scale == 1) return;
    std::vector<vtkAxis*> axes;
    vtkPropCollection* props = renderer->GetViewProps();
    props->InitTraversal();
    while (vtkProp* prop = props->GetNextProp()) {
      auto* actor = vtkContextActor::SafeDownCast(prop);
      vtkContextScene* scene = actor ? actor->GetScene() : nullptr;
      for (unsigned i = 0; scene && i < scene->GetNumberOfItems(); ++i)
        if (auto* chart = vtkChart::SafeDownCast(scene->GetItem(i)))
          for (int a = 0; a < 4; ++a)
            // Log axes label decades, whatever the pixels.
            if (vtkAxis* axis = chart->GetAxis(a); axis && axis->GetVisible() && !axis->GetLogScaleActive())
              axes.push_back(axis);
    }
    if (axes.empty()) return;
    const int dpi = window->GetDPI();
    window->Render();
    std::vector<Ticks> full;
    for (vtkAxis* axis : axes) full.push_back(Ticks::of(axis));
    window->SetSize(std::max(1, static_cast<int>(std::lround(width / scale))),
                    std::max(1, static_cast<int>(std::lround(height / scale))));
    window->SetDPI(static_cast<int>(kVtkBaseDpi));
    window->Render();
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const Ticks reference = Ticks::of(axes[i]);
      // Custom ticks (and automatic ones that happen to agree) are the same at both sizes.
      if (reference.same(full[i])) continue;
      axes[i]->SetCustomTickPositions(reference.positions, reference.labels);
      changed_.emplace_back(axes[i]);
    }
    window->SetSize(width, height);
    window->SetDPI(dpi);
  }
  ~ReferenceTicks() {
    for (vtkAxis* axis : changed_) axis->SetCustomTickPositions(nullptr);
  }
  ReferenceTicks(const ReferenceTicks&) = delete;
  ReferenceTicks& operator=(const ReferenceTicks&) = delete;

private:
  struct Ticks {
    vtkSmartPointer<vtkDoubleArray> positions = vtkSmartPointer<vtkDoubleArray>::New();
    vtkSmartPointer<vtkStringArray> labels = vtkSmartPointer<vtkStringArray>::New();
    static Ticks of(vtkAxis* axis) {
      Ticks t;
      t.positions->DeepCopy(axis->GetTickPositions());
      t.labels->DeepCopy(axis->GetTickLabels());
      return t;
    }
    bool same(const Ticks& o) const {
      if (positions->GetNumberOfValues() != o.positions->GetNumberOfValues() ||
          labels->GetNumberOfValues() != o.labels->GetNumberOfValues())
        return false;
      for (vtkIdType i = 0; i < positions->GetNumberOfValues(); ++i)
        if (positions->GetValue(i) != o.positions->GetValue(i)) return false;
      for (vtkIdType i = 0; i < labels->GetNumberOfValues(); ++i)
        if (labels->GetValue(i) != o.labels->GetValue(i)) return false;
      return true;
    }
  };
  std::vector<vtkSmartPointer<vtkAxis>> changed_;
};

}  // namespace

struct Scene::Impl {
  /// Renders scene offscreen as plan says and writes file.
  static void save(Scene& scene, const fs::path& file, const Plan& plan, ExportOptions::Backend backend);

  vtkNew<vtkRenderer> renderer;
  // Weak: the window belongs to whoever shows the scene and may be destroyed first.
  vtkWeakPointer<vtkRenderWindow> window;
};

Scene::Scene() : impl_(std::make_unique<Impl>()) {
  impl_->renderer->SetBackground(palette::background.r / 255.0, palette::background.g / 255.0,
                                 palette::background.b / 255.0);
}

Scene::~Scene() {
  // Derived parts are gone by now, so only the renderer leaves the window here; derived scenes
  // detach in their own destructors to run their on_detach().
  if (impl_->window) impl_->window->RemoveRenderer(impl_->renderer);
}

vtkRenderer* Scene::renderer() const noexcept { return impl_->renderer; }
vtkRenderWindow* Scene::window() const noexcept { return impl_->window; }

void Scene::attach(vtkRenderWindow* window) {
  if (window == impl_->window) return;
  detach();
  if (!window) return;
  window->AddRenderer(impl_->renderer);
  impl_->window = window;
  on_attach(window);
}

void Scene::detach() {
  vtkRenderWindow* window = impl_->window;
  if (!window) return;
  on_detach(window);
  window->RemoveRenderer(impl_->renderer);
  impl_->window = nullptr;
}

void Scene::on_attach(vtkRenderWindow*) {}
void Scene::on_detach(vtkRenderWindow*) {}
void Scene::on_scale(double) {}

void Scene::save(const std::filesystem::path& file, const ExportOptions& options) {
  const Format format = format_of(file);
  Impl::save(*this, file, plan_for(file, format, options), options.backend);
}

void Scene::save_png(const std::filesystem::path& file, int width, int height) {
  check_pixels(file, width, height);
  ExportOptions options;
  options.width_px = width;
  options.height_px = height;
  Impl::save(*this, file, plan_for(file, Format::Png, options), options.backend);
}

void Scene::Impl::save(Scene& scene, const fs::path& file, const Plan& plan, ExportOptions::Backend backend) {
  // VTK's writers would report a missing folder as "ran out of disk space".
  const auto folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw io_error(file, "cannot write the figure: folder " + folder.string() + " does not exist");
  const bool headless = use_headless(file, backend);

  // Destroyed last: the scene leaves the window (freeing its GL resources) while the context lives.
  std::unique_ptr<detail::OffscreenContext> egl;
  vtkSmartPointer<vtkRenderWindow> x_window;

  vtkRenderWindow* previous = scene.impl_->window;
  scene.detach();
  struct Restore {
    Scene& scene;
    vtkRenderWindow* window;
    ~Restore() {
      scene.on_scale(1);
      scene.detach();
      if (window) scene.attach(window);
    }
  } restore{scene, previous};

  vtkRenderWindow* target = nullptr;
  if (headless) {
    egl = std::make_unique<detail::OffscreenContext>(file, plan.width, plan.height);
    target = egl->window();
  } else {
    x_window = vtkSmartPointer<vtkRenderWindow>::New();
    x_window->SetDisplayId(detail::shared_x_display());
    x_window->SetOffScreenRendering(1);
    x_window->SetMultiSamples(0);
    x_window->SetSize(plan.width, plan.height);
    target = x_window;
  }
  target->SetDPI(static_cast<int>(std::lround(kVtkBaseDpi * plan.scale)));
  scene.attach(target);
  scene.on_scale(plan.scale);
  ReferenceTicks ticks(target, scene.renderer(), plan.scale, plan.width, plan.height);
  target->Render();

  TemporaryFile temp{temporary_beside(file)};
  if (plan.format == Format::Png) {
    write_png(target, file, temp.path);
  } else {
    const fs::path prefix = temp.path;
    temp.path += plan.format == Format::Svg ? ".svg" : ".pdf";
    write_vector(target, scene.renderer(), plan.format, file, prefix, temp.path);
    if (fs::file_size(temp.path, ec) == 0 || ec)
      throw io_error(file, std::string("cannot write the ") + (plan.format == Format::Svg ? "SVG" : "PDF") + " file");
  }
  fs::rename(temp.path, file, ec);
  if (ec) throw io_error(file, "cannot write the figure: " + ec.message());
  temp.path.clear();

  scene.detach();
  if (x_window) x_window->Finalize();
}

}  // namespace paramscope::figures
