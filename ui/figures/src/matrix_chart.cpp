#include "paramscope/figures/matrix_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <vtkBrush.h>
#include <vtkContext2D.h>
#include <vtkContextActor.h>
#include <vtkContextItem.h>
#include <vtkContextScene.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>
#include <vtkPen.h>
#include <vtkRenderer.h>
#include <vtkTextProperty.h>

#include "paramscope/error.h"
#include "paramscope/figures/palette.h"

namespace paramscope::figures {
namespace {

constexpr Rgb kMissing{200, 200, 200};
constexpr int kColorbarSteps = 128;

std::string format_value(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Relative luminance decides black or white annotations, so they stay readable on every cell.
bool is_dark(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b < 128; }

struct Geometry {
  float x0 = 0, y_top = 0, cell = 0;  // the matrix's left edge, top edge and cell size
  std::size_t rows = 0, cols = 0;
};

}  // namespace

// Draws the matrix into a context scene; the layout follows the scene's size and text size, so
// an export at another dpi looks the same.
class MatrixItem : public vtkContextItem {
public:
  static MatrixItem* New();
  vtkTypeMacro(MatrixItem, vtkContextItem)

  const MatrixData* data = nullptr;
  double scale = 1;
  Geometry geometry;

  bool Paint(vtkContext2D* painter) override;

private:
  float text_width(vtkContext2D* p, const std::string& s) {
    float b[4];
    p->ComputeStringBounds(s.c_str(), b);
    return b[2];
  }
  float text_height(vtkContext2D* p) {
    float b[4];
    p->ComputeStringBounds("Ag", b);
    return b[3];
  }
  void set_font(vtkContext2D* p, int size, bool bold, Rgb c = palette::text) {
    vtkTextProperty* t = p->GetTextProp();
    t->SetFontSize(size);
    t->SetBold(bold);
    t->SetColor(c.r / 255.0, c.g / 255.0, c.b / 255.0);
    t->SetOrientation(0);
    t->SetJustificationToCentered();
    t->SetVerticalJustificationToCentered();
  }
};
vtkStandardNewMacro(MatrixItem);

bool MatrixItem::Paint(vtkContext2D* p) {
  const MatrixData& d = *data;
  const auto W = static_cast<float>(GetScene()->GetSceneWidth());
  const auto H = static_cast<float>(GetScene()->GetSceneHeight());
  const auto pad = static_cast<float>(10 * scale);
  p->GetPen()->SetLineType(vtkPen::NO_PEN);

  set_font(p, 15, true);
  const float title_h = text_height(p);
  p->DrawString(W / 2, H - pad - title_h / 2, d.title.empty() ? "no data" : d.title.c_str());

  const std::size_t rows = d.row_labels.size(), cols = d.col_labels.size();
  geometry = {};
  if (rows == 0 || cols == 0) return true;

  set_font(p, 12, false);
  float row_w = 0, col_w = 0;
  for (const auto& s : d.row_labels) row_w = std::max(row_w, text_width(p, s));
  for (const auto& s : d.col_labels) col_w = std::max(col_w, text_width(p, s));
  const float label_h = text_height(p);
  const float bar_w = static_cast<float>(18 * scale), bar_labels = text_width(p, "-0.00") + pad;
  const float left = pad + row_w + pad, right = pad + bar_w + bar_labels + pad;
  const float top = pad + title_h + pad;
  // Column labels stand upright when they are wider than a cell.
  float cell = std::min((W - left - right) / static_cast<float>(cols),
                        (H - top - (pad + label_h + pad)) / static_cast<float>(rows));
  const bool upright = col_w > cell * 0.95f;
  if (upright) cell = std::min(cell, (H - top - (pad + col_w + pad)) / static_cast<float>(rows));
  cell = std::max(cell, 1.0f);
  const float width = cell * static_cast<float>(cols), height = cell * static_cast<float>(rows);
  const float x0 = left + std::max(0.0f, (W - left - right - width) / 2);
  const float y_top = H - top;
  geometry = {x0, y_top, cell, rows, cols};

  for (std::size_t r = 0; r < rows; ++r) {
    const float y = y_top - cell * static_cast<float>(r + 1);
    for (std::size_t c = 0; c < cols; ++c) {
      const double v = d.values[r * cols + c];
      const Rgb color = std::isfinite(v) ? colormap_color(d.colormap, (v - d.lo) / (d.hi - d.lo)) : kMissing;
      p->GetBrush()->SetColor(color.r, color.g, color.b, 255);
      p->DrawRect(x0 + cell * static_cast<float>(c), y, cell, cell);
    }
  }
  // Annotations only where they fit.
  set_font(p, 11, false);
  const bool annotate = text_width(p, "-0." + std::string(static_cast<std::size_t>(d.decimals), '0')) < cell * 0.9f &&
                        text_height(p) < cell * 0.8f;
  for (std::size_t r = 0; annotate && r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const double v = d.values[r * cols + c];
      const Rgb color = std::isfinite(v) ? colormap_color(d.colormap, (v - d.lo) / (d.hi - d.lo)) : kMissing;
      set_font(p, 11, false, is_dark(color) ? Rgb{255, 255, 255} : palette::text);
      p->DrawString(x0 + cell * (static_cast<float>(c) + 0.5f), y_top - cell * (static_cast<float>(r) + 0.5f),
                    format_value(v, d.decimals).c_str());
    }

  set_font(p, 12, false);
  p->GetTextProp()->SetJustificationToRight();
  for (std::size_t r = 0; r < rows; ++r)
    p->DrawString(x0 - pad, y_top - cell * (static_cast<float>(r) + 0.5f), d.row_labels[r].c_str());
  if (upright) {
    p->GetTextProp()->SetOrientation(90);
    p->GetTextProp()->SetJustificationToRight();
  } else {
    p->GetTextProp()->SetVerticalJustificationToTop();
    p->GetTextProp()->SetJustificationToCentered();
  }
  for (std::size_t c = 0; c < cols; ++c)
    p->DrawString(x0 + cell * (static_cast<float>(c) + 0.5f), y_top - height - pad, d.col_labels[c].c_str());

  // Colour bar beside the matrix, as tall as it.
  const float bx = x0 + width + pad * 2;
  const float step = height / kColorbarSteps;
  for (int i = 0; i < kColorbarSteps; ++i) {
    const Rgb c = colormap_color(d.colormap, (i + 0.5) / kColorbarSteps);
    p->GetBrush()->SetColor(c.r, c.g, c.b, 255);
    p->DrawRect(bx, y_top - height + step * static_cast<float>(i), bar_w, step * 1.02f);
  }
  set_font(p, 12, false);
  p->GetTextProp()->SetJustificationToLeft();
  for (int i = 0; i <= 2; ++i) {
    const double v = d.lo + (d.hi - d.lo) * i / 2.0;
    p->DrawString(bx + bar_w + pad / 2, y_top - height + height * static_cast<float>(i) / 2, format_value(v, 2).c_str());
  }
  if (!d.value_label.empty()) {
    p->GetTextProp()->SetOrientation(90);
    p->GetTextProp()->SetJustificationToCentered();
    p->GetTextProp()->SetVerticalJustificationToBottom();
    p->DrawString(std::min(W - 2, bx + bar_w + bar_labels + pad), y_top - height / 2, d.value_label.c_str());
  }
  return true;
}

struct MatrixChart::Impl {
  MatrixData data;
  vtkNew<vtkContextActor> actor;
  vtkNew<MatrixItem> item;
};

MatrixChart::MatrixChart() : impl_(std::make_unique<Impl>()) {
  impl_->item->data = &impl_->data;
  impl_->actor->GetScene()->SetRenderer(renderer());
  impl_->actor->GetScene()->AddItem(impl_->item);
  renderer()->AddActor(impl_->actor);
}

MatrixChart::~MatrixChart() { detach(); }

void MatrixChart::set_matrix(MatrixData data) {
  const std::size_t n = data.row_labels.size() * data.col_labels.size();
  if (data.values.size() != n)
    throw usage_error("matrix chart: " + std::to_string(data.values.size()) + " values for " +
                      std::to_string(data.row_labels.size()) + " x " + std::to_string(data.col_labels.size()) + " cells");
  if (!(std::isfinite(data.lo) && std::isfinite(data.hi) && data.lo < data.hi))
    throw usage_error("matrix chart: colour range [" + std::to_string(data.lo) + ", " + std::to_string(data.hi) +
                      "] is empty or not finite");
  impl_->data = std::move(data);
  impl_->item->Modified();
}

void MatrixChart::clear() {
  impl_->data = MatrixData{};
  impl_->item->Modified();
}

const MatrixData& MatrixChart::data() const noexcept { return impl_->data; }

std::optional<std::pair<std::size_t, std::size_t>> MatrixChart::cell_at(double x, double y) const {
  const Geometry& g = impl_->item->geometry;
  if (g.cell <= 0) return std::nullopt;
  const double c = (x - g.x0) / g.cell, r = (g.y_top - y) / g.cell;
  if (c < 0 || r < 0 || c >= static_cast<double>(g.cols) || r >= static_cast<double>(g.rows)) return std::nullopt;
  return std::pair{static_cast<std::size_t>(r), static_cast<std::size_t>(c)};
}

void MatrixChart::on_scale(double scale) { impl_->item->scale = scale; }

}  // namespace paramscope::figures
