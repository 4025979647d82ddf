#include "paramscope/figures/interference_figures.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <regex>


namespace paramscope::figures {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Hugging Face, PyTorch and llama.cpp name the weights file after the format, not the model.
bool generic_stem(const std::string& stem) {
  static const std::regex re(
      R"(^(model|pytorch_model|tf_model|flax_model|consolidated|weights|checkpoint|adapter_model)([-_.].*)?$)",
      std::regex::icase);
  return std::regex_match(stem, re);
}

const PairMetrics* find_pair(const InterferenceStats& s, std::size_t a, std::size_t b) {
  for (const auto& p : s.pairs)
    if ((p.a == a && p.b == b) || (p.a == b && p.b == a)) return &p;
  return nullptr;
}

double metric_value(const PairMetrics& p, PairMetric m, bool swapped) {
  switch (m) {
    case PairMetric::Cosine: return p.cosine();
    case PairMetric::SignConflict: return p.sign_conflict();
    case PairMetric::TopConflict: return p.top_conflict();
    case PairMetric::Jaccard: return p.jaccard();
    case PairMetric::L2Distance: return p.l2_distance();
    case PairMetric::MagnitudeRatio: {
      const double r = p.magnitude_ratio();
      return swapped ? 1.0 / r : r;
    }
  }
  return kNaN;
}

double diagonal(PairMetric m) {
  switch (m) {
    case PairMetric::Cosine:
    case PairMetric::Jaccard:
    case PairMetric::MagnitudeRatio: return 1;
    default: return 0;
  }
}

double finite_mean(const std::vector<double>& v) {
  double sum = 0;
  int n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      sum += x;
      ++n;
    }
  return n ? sum / n : kNaN;
}

}  // namespace

std::vector<std::string> model_labels(const std::vector<std::string>& paths) {
  std::vector<std::string> labels;
  std::map<std::string, int> seen;
  for (const auto& s : paths) {
    std::filesystem::path p(s);
    while (!p.empty() && !p.has_filename()) p = p.parent_path();  // "dir/" names dir
    std::string label = p.filename().string();
    if (p.has_extension() && generic_stem(p.stem().string()) && p.parent_path().has_filename())
      label = p.parent_path().filename().string();
    else if (p.has_extension())
      label = p.stem().string();
    if (label.empty()) label = s;
    const int n = ++seen[label];
    labels.push_back(n == 1 ? label : label + " (" + std::to_string(n) + ")");
  }
  return labels;
}

std::string_view pair_metric_title(PairMetric m) noexcept {
  switch (m) {
    case PairMetric::Cosine: return "cosine similarity";
    case PairMetric::SignConflict: return "sign conflict";
    case PairMetric::TopConflict: return "sign conflict in top-k";
    case PairMetric::Jaccard: return "top-k overlap (Jaccard)";
    case PairMetric::L2Distance: return "L2 distance";
    case PairMetric::MagnitudeRatio: return "magnitude ratio (row / column)";
  }
  return "";
}

std::string_view pair_metric_key(PairMetric m) noexcept {
  switch (m) {
    case PairMetric::Cosine: return "cosine";
    case PairMetric::SignConflict: return "sign_conflict";
    case PairMetric::TopConflict: return "top_conflict";
    case PairMetric::Jaccard: return "jaccard";
    case PairMetric::L2Distance: return "l2";
    case PairMetric::MagnitudeRatio: return "magnitude_ratio";
  }
  return "";
}

MatrixData pair_matrix(const InterferenceReport& report, const InterferenceStats& stats, PairMetric metric) {
  MatrixData d;
  const std::size_t n = report.models.size();
  d.row_labels = model_labels(report.models);
  d.col_labels = d.row_labels;
  d.values.assign(n * n, kNaN);
  double top = 0;
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = 0; b < n; ++b) {
      double v = diagonal(metric);
      if (a != b) {
        const PairMetrics* p = find_pair(stats, a, b);
        v = p ? metric_value(*p, metric, p->a != a) : kNaN;
      }
      d.values[a * n + b] = v;
      if (std::isfinite(v)) top = std::max(top, std::fabs(v));
    }
  d.value_label = std::string(pair_metric_title(metric));
  const std::string scope = stats.name.empty() ? std::string("all tensors") : stats.name;
  d.title = std::string(pair_metric_title(metric)) + " of task vectors, " + scope;
  switch (metric) {
    case PairMetric::Cosine:
      d.lo = -1;
      d.hi = 1;
      d.colormap = Colormap::RdBuR;
      break;
    case PairMetric::SignConflict:
    case PairMetric::TopConflict:
    case PairMetric::Jaccard:
      d.lo = 0;
      d.hi = 1;
      d.colormap = Colormap::Viridis;
      break;
    case PairMetric::L2Distance:
    case PairMetric::MagnitudeRatio:
      d.lo = 0;
      d.hi = top > 0 ? top : 1;
      d.colormap = Colormap::Viridis;
      d.decimals = top >= 100 ? 0 : (top >= 1 ? 2 : 3);
      break;
  }
  return d;
}

BlockSeries block_series(const InterferenceReport& report) {
  BlockSeries s;
  ProfileSeries conflict{"sign conflict", {}}, top{"sign conflict in top-k", {}}, jaccard{"top-k Jaccard (mean)", {}},
      cosine{"cosine (mean)", {}};
  for (const auto& b : report.blocks) {
    s.block_labels.push_back(b.name.empty() ? std::string("(other)") : b.name);
    conflict.values.push_back(b.group.sign_conflict());
    top.values.push_back(b.group.top_conflict());
    std::vector<double> j, c;
    for (const auto& p : b.pairs) {
      j.push_back(p.jaccard());
      c.push_back(p.cosine());
    }
    jaccard.values.push_back(finite_mean(j));
    cosine.values.push_back(finite_mean(c));
  }
  // ProfileChart draws NaN as a gap, but refuses infinities.
  for (auto* series : {&conflict, &top, &jaccard, &cosine})
    for (double& v : series->values)
      if (std::isinf(v)) v = kNaN;
  s.series = {conflict, top, jaccard, cosine};
  return s;
}

std::vector<LineSeries> magnitude_series(const InterferenceReport& report) {
  std::vector<LineSeries> out;
  const auto labels = model_labels(report.models);
  for (std::size_t i = 0; i < report.magnitudes.size() && i < labels.size(); ++i) {
    const MagnitudeHistogram& h = report.magnitudes[i];
    std::int64_t total = 0;
    for (auto c : h.counts) total += c;
    if (total == 0 || h.counts.empty()) continue;
    LineSeries s{labels[i], {}, {}};
    const double w = (h.log10_hi - h.log10_lo) / static_cast<double>(h.counts.size());
    for (std::size_t k = 0; k < h.counts.size(); ++k) {
      s.x.push_back(h.log10_lo + (static_cast<double>(k) + 0.5) * w);
      s.y.push_back(static_cast<double>(h.counts[k]) / static_cast<double>(total));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string_view element_map_title(ElementMapKind k) noexcept {
  switch (k) {
    case ElementMapKind::Disagree: return "disagreeing models";
    case ElementMapKind::Dominant: return "dominant model";
    case ElementMapKind::Contributors: return "contributing models";
    case ElementMapKind::MergedDelta: return "merged delta";
    case ElementMapKind::ElectedSign: return "elected sign";
  }
  return "";
}

std::vector<float> element_map_values(const ElementInterference& maps, ElementMapKind kind) {
  std::vector<float> v;
  switch (kind) {
    case ElementMapKind::Disagree:
      v.assign(maps.disagree.begin(), maps.disagree.end());
      break;
    case ElementMapKind::Dominant:
      v.reserve(maps.dominant.size());
      for (auto d : maps.dominant) v.push_back(d < 0 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(d));
      break;
    case ElementMapKind::Contributors:
      v.reserve(maps.contributes.size());
      for (auto bits : maps.contributes) v.push_back(static_cast<float>(std::popcount(bits)));
      break;
    case ElementMapKind::MergedDelta:
      v = maps.merged_delta;
      break;
    case ElementMapKind::ElectedSign:
      v.assign(maps.elected_sign.begin(), maps.elected_sign.end());
      break;
  }
  return v;
}

std::vector<std::filesystem::path> write_interference_figures(const InterferenceReport& report,
                                                              const std::filesystem::path& dir,
                                                              const ExportOptions& options) {
  std::vector<std::filesystem::path> files;
  {
    MatrixChart chart;
    chart.set_matrix(pair_matrix(report, report.overall, PairMetric::Cosine));
    for (const char* name : {"similarity.png", "similarity.svg"}) {
      chart.save(dir / name, options);
      files.push_back(dir / name);
    }
    chart.set_matrix(pair_matrix(report, report.overall, PairMetric::SignConflict));
    chart.save(dir / "conflict.png", options);
    files.push_back(dir / "conflict.png");
  }
  {
    ProfileChart chart;
    BlockSeries s = block_series(report);
    chart.set_profile(std::move(s.block_labels), std::move(s.series), "conflict and overlap per block", "rate");
    chart.set_style(ProfileChart::Style::Lines);
    chart.save(dir / "blocks.png", options);
    files.push_back(dir / "blocks.png");
  }
  {
    LineChart chart;
    chart.set_series(magnitude_series(report), "task-vector magnitudes", "log10 |tau|", "fraction of entries");
    chart.save(dir / "magnitudes.png", options);
    files.push_back(dir / "magnitudes.png");
  }
  return files;
}

}  // namespace paramscope::figures
