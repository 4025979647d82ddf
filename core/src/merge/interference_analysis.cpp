// analyze_interference: per tensor, an exact top-k selection pass per model (one float per element
// of the tensor, reused model after model), then one streamed pass that forms every sum. Partial
// sums are kept per chunk and added in chunk order, so the result does not depend on threads.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

#include "merge/interference_detail.h"
#include "merge/merge_kernel.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "paramscope/interference.h"
#include "paramscope/score_field.h"

namespace paramscope::interference_detail {

MagnitudeBinner::MagnitudeBinner(const MagnitudeHistogram& layout) {
  const std::size_t bins = layout.counts.size();
  if (bins == 0 || bins > 65535 || !(layout.log10_lo < layout.log10_hi))
    throw usage_error("interference: a magnitude histogram needs 1 to 65535 bins and log10_lo < log10_hi");
  const double lo = layout.log10_lo, span = layout.log10_hi - layout.log10_lo;
  edges_.assign(bins, 0.0);
  for (std::size_t k = 1; k < bins; ++k)
    edges_[k] = std::pow(10.0, lo + span * static_cast<double>(k) / static_cast<double>(bins));
  table_.resize(std::size_t{1} << 15);
  std::size_t b = 0;
  for (std::uint32_t key = 0; key < table_.size(); ++key) {
    const auto smallest = static_cast<double>(std::bit_cast<float>(key << 16));
    while (b + 1 < bins && smallest >= edges_[b + 1]) ++b;  // keys ascend with the value
    table_[key] = static_cast<std::uint16_t>(b);
  }
}

std::size_t MagnitudeBinner::bin(float magnitude) const noexcept {
  std::size_t b = table_[(std::bit_cast<std::uint32_t>(magnitude) >> 16) & 0x7fffu];
  const auto v = static_cast<double>(magnitude);
  while (b + 1 < edges_.size() && v >= edges_[b + 1]) ++b;
  return b;
}

void MagnitudeBinner::add(MagnitudeHistogram& h, float v) const noexcept {
  if (v != v)
    ++h.nans;
  else if (v == 0)
    ++h.zeros;
  else
    ++h.counts[bin(std::fabs(v))];
}

namespace {

constexpr float kNoScore = -std::numeric_limits<float>::infinity();

// Sums over one chunk of one tensor.
struct Partial {
  std::vector<ModelSums> models;
  std::vector<PairSums> pairs;
  GroupSums group;
};

// One tensor's inputs: the base, the models and, per model, the overlap scores (or none).
struct TensorInputs {
  const Tensor* base = nullptr;
  std::vector<const Tensor*> x;
  std::vector<const ScoreField*> field;  // nullptr: |tau|
  std::vector<std::size_t> field_index;
};

// What the top-k ranks by for model i: its score (NaN last, never selected) or |tau|.
inline float rank_value(const float* score, float tau, std::size_t j) noexcept {
  if (!score) return merge_detail::selection_magnitude(tau);
  const float s = score[j];
  return s == s ? s : kNoScore;
}

void accumulate(std::size_t models, std::int64_t first, std::int64_t n, float* const* tau, const float* const* score,
                const std::vector<merge_detail::Selection>& sel, Partial& out, std::vector<MagnitudeHistogram>& hist,
                const MagnitudeBinner& binner) {
  std::vector<float> v(models);
  std::vector<int> sg(models);
  std::vector<char> top(models);
  for (std::int64_t j = 0; j < n; ++j) {
    const auto u = static_cast<std::size_t>(j);
    const std::int64_t idx = first + j;
    bool pos = false, neg = false, kpos = false, kneg = false;
    int nz = 0, knz = 0;
    for (std::size_t i = 0; i < models; ++i) {
      const float raw = tau[i][u];
      binner.add(hist[i], raw);
      const float t = raw == raw ? raw : 0.0f;  // NaN deltas count as zero
      const float r = rank_value(score[i], raw, u);
      const bool ranked = !score[i] || score[i][u] == score[i][u];  // a NaN score is never selected
      const bool in_top = ranked && sel[i].keep(idx, r);
      v[i] = t;
      sg[i] = t > 0 ? 1 : (t < 0 ? -1 : 0);
      top[i] = in_top;
      pos = pos || t > 0;
      neg = neg || t < 0;
      nz += t != 0;
      if (in_top) {
        kpos = kpos || t > 0;
        kneg = kneg || t < 0;
        knz += t != 0;
      }
      ModelSums& m = out.models[i];
      const auto d = static_cast<double>(t);
      m.sq += d * d;
      m.abs += std::fabs(d);
      m.nonzero += t != 0;
      m.top += in_top;
    }
    for (std::size_t i = 0; i < models; ++i)
      if (top[i] && ((sg[i] > 0 && neg) || (sg[i] < 0 && pos))) ++out.models[i].top_conflicts;
    std::size_t p = 0;
    for (std::size_t a = 0; a < models; ++a)
      for (std::size_t b = a + 1; b < models; ++b, ++p) {
        PairSums& s = out.pairs[p];
        const auto da = static_cast<double>(v[a]), db = static_cast<double>(v[b]);
        s.dot += da * db;
        s.sq_a += da * da;
        s.sq_b += db * db;
        s.sq_diff += (da - db) * (da - db);
        const bool both = sg[a] != 0 && sg[b] != 0;
        const bool opposite = sg[a] * sg[b] < 0;
        s.both_nonzero += both;
        s.sign_conflicts += opposite;
        s.top_both += top[a] && top[b];
        s.top_either += top[a] || top[b];
        s.top_both_conflicts += top[a] && top[b] && opposite;
      }
    GroupSums& g = out.group;
    ++g.entries;
    if (nz >= 2) {
      ++g.multi_nonzero;
      g.sign_conflicts += pos && neg;
    }
    if (knz >= 2) {
      ++g.top_multi;
      g.top_conflicts += kpos && kneg;
    }
  }
}

class TensorAnalysis {
 public:
  TensorAnalysis(const TensorInputs& in, double top_fraction, std::int64_t chunk, ThreadPool& pool,
                 ProgressTracker& tracker, const MagnitudeBinner& binner)
      : in_(in), top_fraction_(top_fraction), chunk_(chunk), pool_(pool), tracker_(tracker), binner_(binner) {}

  // Reads rank values of model i for elements [first, first + out.size()).
  void read_rank(std::size_t i, std::int64_t first, std::span<float> out, std::vector<float>& tmp) const {
    if (in_.field[i]) {
      in_.field[i]->scores(in_.field_index[i], first, out);
      for (float& s : out) s = s == s ? s : kNoScore;
      return;
    }
    tmp.resize(out.size());
    in_.x[i]->read_f32(first, out);
    in_.base->read_f32(first, tmp);
    for (std::size_t j = 0; j < out.size(); ++j) out[j] = merge_detail::selection_magnitude(out[j] - tmp[j]);
  }

  void release(std::size_t i, std::int64_t first, std::int64_t n) const {
    if (in_.field[i]) in_.field[i]->release(in_.field_index[i], first, n);
    in_.x[i]->release(first, n);
    in_.base->release(first, n);
  }

  // Model i's exact top-k (k = int(top_fraction * numel)) as a Selection. Ties at the cut go by a
  // per-model hash of the index: with the merge's lowest-index rule, bf16 task vectors (few
  // distinct magnitudes, millions tied at the cut) would all keep the same tied entries and
  // overstate the overlap.
  merge_detail::Selection select(std::size_t i) {
    const std::int64_t numel = in_.base->numel();
    MergeModelParams mp;
    mp.density = top_fraction_;
    const MergeParams params = default_merge_params(MergeMethod::Ties);
    std::vector<float> values;
    if (top_fraction_ < 1) {
      values.resize(static_cast<std::size_t>(numel));
      pool_.parallel_for(chunks(), 1, [&](std::size_t cb, std::size_t ce) {
        std::vector<float> tmp;
        for (std::size_t c = cb; c < ce; ++c) {
          const std::int64_t first = static_cast<std::int64_t>(c) * chunk_;
          const std::int64_t n = std::min(chunk_, numel - first);
          read_rank(i, first, std::span<float>(values.data() + first, static_cast<std::size_t>(n)), tmp);
          release(i, first, n);
          tracker_.advance(static_cast<std::uint64_t>(n));
        }
      });
    }
    std::vector<float> tmp;
    const auto reread = [&](std::int64_t first, std::span<float> out) { read_rank(i, first, out, tmp); };
    return merge_detail::make_selection(params, mp, i, in_.base->name(), numel, values, reread,
                                        merge_detail::TieBreak::Hashed);
  }

  InterferenceStats run(std::vector<MagnitudeHistogram>& hist) {
    const std::size_t models = in_.x.size();
    const std::int64_t numel = in_.base->numel();
    std::vector<merge_detail::Selection> sel;
    for (std::size_t i = 0; i < models; ++i) sel.push_back(select(i));

    std::vector<Partial> partial(chunks());
    std::mutex hist_mutex;
    pool_.parallel_for(partial.size(), 1, [&](std::size_t cb, std::size_t ce) {
      const auto len = static_cast<std::size_t>(chunk_);
      std::vector<float> buf(len * (1 + 2 * models));
      std::vector<float*> tau(models);
      std::vector<const float*> score(models, nullptr);
      std::vector<MagnitudeHistogram> local(hist.size());
      for (std::size_t i = 0; i < models; ++i) {
        local[i].counts.assign(hist[i].counts.size(), 0);
        tau[i] = buf.data() + len * (1 + i);
      }
      for (std::size_t c = cb; c < ce; ++c) {
        const std::int64_t first = static_cast<std::int64_t>(c) * chunk_;
        const std::int64_t n = std::min(chunk_, numel - first);
        const auto m = static_cast<std::size_t>(n);
        float* b = buf.data();
        in_.base->read_f32(first, std::span<float>(b, m));
        for (std::size_t i = 0; i < models; ++i) {
          in_.x[i]->read_f32(first, std::span<float>(tau[i], m));
          for (std::size_t j = 0; j < m; ++j) tau[i][j] -= b[j];
          if (in_.field[i]) {
            float* s = buf.data() + len * (1 + models + i);
            in_.field[i]->scores(in_.field_index[i], first, std::span<float>(s, m));
            score[i] = s;
          }
        }
        Partial& p = partial[c];
        p.models.resize(models);
        p.pairs.resize(models * (models - 1) / 2);
        accumulate(models, first, n, tau.data(), score.data(), sel, p, local, binner_);
        for (std::size_t i = 0; i < models; ++i) release(i, first, n);
        tracker_.advance(static_cast<std::uint64_t>(n));
      }
      const std::lock_guard lock(hist_mutex);
      for (std::size_t i = 0; i < models; ++i) {
        for (std::size_t k = 0; k < local[i].counts.size(); ++k) hist[i].counts[k] += local[i].counts[k];
        hist[i].zeros += local[i].zeros;
        hist[i].nans += local[i].nans;
      }
    });

    InterferenceStats s;
    s.name = in_.base->name();
    s.numel = numel;
    s.models.resize(models);
    for (std::size_t a = 0; a < models; ++a)
      for (std::size_t b = a + 1; b < models; ++b) s.pairs.push_back({a, b, {}});
    for (const Partial& p : partial) {
      for (std::size_t i = 0; i < models; ++i) s.models[i] += p.models[i];
      for (std::size_t k = 0; k < s.pairs.size(); ++k) s.pairs[k].sums += p.pairs[k];
      s.group += p.group;
    }
    return s;
  }

 private:
  std::size_t chunks() const {
    return static_cast<std::size_t>((in_.base->numel() + chunk_ - 1) / chunk_);
  }

  const TensorInputs& in_;
  double top_fraction_;
  std::int64_t chunk_;
  ThreadPool& pool_;
  ProgressTracker& tracker_;
  const MagnitudeBinner& binner_;
};

std::vector<std::size_t> selected_tensors(const Checkpoint& base, const InterferenceOptions& o) {
  TensorSelection sel;
  sel.include = o.include;
  sel.exclude = o.exclude;
  sel.all_tensors = true;
  try {
    return select_tensors(base, sel);
  } catch (const Error& e) {
    if (e.kind() != Error::Kind::Usage) throw;
    throw usage_error(base.path().string() + ": no floating-point tensor to analyse" +
                      (o.include.empty() && o.exclude.empty() ? std::string()
                                                              : " matches the include/exclude patterns"));
  }
}

}  // namespace

InterferenceReport analyze(const Checkpoint& base, const std::vector<const Checkpoint*>& models,
                           const InterferenceOptions& options, ThreadPool& pool, const JobControl& control,
                           std::int64_t chunk) {
  if (models.size() < 2)
    throw usage_error("interference: needs at least two fine-tuned models, got " + std::to_string(models.size()));
  if (!(options.top_fraction > 0 && options.top_fraction <= 1))
    throw usage_error("interference: top fraction " + std::to_string(options.top_fraction) +
                      " is outside (0, 1]");
  if (!options.overlap_scores.empty() && options.overlap_scores.size() != models.size())
    throw usage_error("interference: " + std::to_string(options.overlap_scores.size()) + " overlap score maps for " +
                      std::to_string(models.size()) + " models (give one per fine-tuned model, or none)");
  if (chunk <= 0) throw usage_error("interference: the chunk size must be positive");
  std::vector<MergeInput> wrapped;
  for (const Checkpoint* m : models) {
    if (!m) throw usage_error("interference: a model is missing");
    wrapped.push_back({m, {}});
  }
  check_merge_alignment(base, wrapped);
  const std::vector<std::size_t> selected = selected_tensors(base, options);

  // Overlap score fields: tensors matched by name, and their size checked before any reading.
  std::vector<std::unordered_map<std::string, std::size_t>> field_names(options.overlap_scores.size());
  for (std::size_t i = 0; i < options.overlap_scores.size(); ++i) {
    if (!options.overlap_scores[i])
      throw usage_error("interference: the overlap score map of model " + std::to_string(i + 1) + " is missing");
    const auto& ts = options.overlap_scores[i]->tensors();
    for (std::size_t k = 0; k < ts.size(); ++k) field_names[i].emplace(ts[k].name, k);
  }

  InterferenceReport report;
  report.base = base.path().string();
  for (const Checkpoint* m : models) report.models.push_back(m->path().string());
  report.top_fraction = options.top_fraction;
  report.magnitudes.resize(models.size());
  const MagnitudeBinner binner(report.magnitudes.front());

  std::vector<TensorInputs> inputs(selected.size());
  std::uint64_t units = 0;
  const std::uint64_t passes = 1 + (options.top_fraction < 1 ? models.size() : 0);
  for (std::size_t s = 0; s < selected.size(); ++s) {
    TensorInputs& in = inputs[s];
    in.base = &base.tensors()[selected[s]];
    in.field.assign(models.size(), nullptr);
    in.field_index.assign(models.size(), 0);
    for (std::size_t i = 0; i < models.size(); ++i) {
      in.x.push_back(&models[i]->at(in.base->name()));
      if (field_names.empty()) continue;
      const auto it = field_names[i].find(in.base->name());
      if (it == field_names[i].end()) continue;  // no scores for this tensor: |tau|
      const ScoredTensor& st = options.overlap_scores[i]->tensors()[it->second];
      if (st.numel != in.base->numel())
        throw usage_error("interference: the overlap scores of model " + std::to_string(i + 1) + " for '" +
                          in.base->name() + "' have " + std::to_string(st.numel) + " entries, the tensor has " +
                          std::to_string(in.base->numel()));
      in.field[i] = options.overlap_scores[i].get();
      in.field_index[i] = it->second;
    }
    units += passes * static_cast<std::uint64_t>(in.base->numel());
  }

  ProgressTracker tracker(control, units);
  for (const TensorInputs& in : inputs) {
    if (control.cancel) control.cancel->throw_if_cancelled();
    TensorAnalysis analysis(in, options.top_fraction, chunk, pool, tracker, binner);
    report.tensors.push_back(analysis.run(report.magnitudes));
  }

  // Blocks in model order (the base's hierarchy), each the sum of its tensors in the base's order.
  const Hierarchy& h = base.hierarchy();
  std::vector<std::size_t> block_of(base.tensors().size(), 0);
  for (std::size_t b = 0; b < h.blocks().size(); ++b)
    for (const std::size_t t : h.blocks()[b].tensors) block_of[t] = b;
  std::vector<int> slot(h.blocks().size(), -1);
  std::vector<std::size_t> order;  // selected positions sorted by block rank, stable
  for (std::size_t s = 0; s < selected.size(); ++s) order.push_back(s);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return block_of[selected[a]] < block_of[selected[b]]; });
  for (const std::size_t s : order) {
    const std::size_t b = block_of[selected[s]];
    if (slot[b] < 0) {
      slot[b] = static_cast<int>(report.blocks.size());
      report.blocks.emplace_back();
      report.blocks.back().name = h.blocks()[b].name;
    }
    report.blocks[static_cast<std::size_t>(slot[b])] += report.tensors[s];
  }
  for (std::size_t s = 0; s < selected.size(); ++s) {
    report.tensor_blocks.push_back(h.place(selected[s]).block);
    report.overall += report.tensors[s];
  }
  tracker.finish();
  return report;
}

}  // namespace paramscope::interference_detail

namespace paramscope {

InterferenceReport analyze_interference(const Checkpoint& base, const std::vector<const Checkpoint*>& models,
                                        const InterferenceOptions& options, ThreadPool& pool,
                                        const JobControl& control) {
  return interference_detail::analyze(base, models, options, pool, control, interference_detail::kDefaultChunk);
}

}  // namespace paramscope
