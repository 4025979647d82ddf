// analyze_interference: per tensor, every model's exact top-k by streamed histogram refinement
// (interference_topk.h), then one streamed pass that forms every sum. Partial sums are kept per
// chunk and added in chunk order, so the result does not depend on threads.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

#include "merge/interference_detail.h"
#include "merge/interference_kernels.h"
#include "merge/interference_topk.h"
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
  std::vector<double> edges(bins, 0.0);
  edges_.assign(bins, 0.0f);
  for (std::size_t k = 1; k < bins; ++k) {
    edges[k] = std::pow(10.0, lo + span * static_cast<double>(k) / static_cast<double>(bins));
    // The smallest float >= the edge: for a float v, v >= it exactly when double(v) >= the edge.
    float f = static_cast<float>(edges[k]);
    if (static_cast<double>(f) < edges[k]) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    edges_[k] = f;
  }
  // Keys of 0 (zeros and subnormals) and of inf (shared with some NaN) are checked; the other
  // NaN keys go straight to the NaN slot bins + 1 (zeros: slot bins).
  table_.resize(std::size_t{1} << 15);
  std::size_t b = 0;
  for (std::uint32_t key = 0; key < table_.size(); ++key) {
    if (key > 0x7F80u) {
      table_[key] = static_cast<std::uint32_t>(bins + 1);
      continue;
    }
    const auto smallest = static_cast<double>(std::bit_cast<float>(key << 16));
    while (b + 1 < bins && smallest >= edges[b + 1]) ++b;  // keys ascend with the value
    const auto largest = static_cast<double>(std::bit_cast<float>((key << 16) | 0xFFFFu));
    const bool check = key == 0 || key == 0x7F80u || (b + 1 < bins && largest >= edges[b + 1]);
    table_[key] = static_cast<std::uint32_t>(b) | (check ? kCheck : 0u);
  }
}

std::size_t MagnitudeBinner::checked_slot(std::uint32_t a, std::size_t b) const noexcept {
  if (a == 0) return edges_.size();
  if (a > 0x7F800000u) return edges_.size() + 1;
  const float m = std::bit_cast<float>(a);
  while (b + 1 < edges_.size() && m >= edges_[b + 1]) ++b;
  return b;
}

std::size_t MagnitudeBinner::bin(float magnitude) const noexcept {
  return slot(std::bit_cast<std::uint32_t>(magnitude) & 0x7FFFFFFFu);
}

void MagnitudeBinner::add(MagnitudeHistogram& h, float v) const noexcept {
  const std::size_t s = slot(std::bit_cast<std::uint32_t>(v) & 0x7FFFFFFFu);
  if (s == edges_.size())
    ++h.zeros;
  else if (s > edges_.size())
    ++h.nans;
  else
    ++h.counts[s];
}

void MagnitudeBinner::add(MagnitudeHistogram& h, const float* v, std::size_t n) const noexcept {
  // Two interleaved count arrays, so that runs of one bin do not wait on their own increments.
  const std::size_t slots = edges_.size() + 2;
  std::vector<std::int64_t> c(2 * slots, 0);
  const std::size_t even = n - n % 2;
  for (std::size_t j = 0; j < even; j += 2) {
    ++c[slot(std::bit_cast<std::uint32_t>(v[j]) & 0x7FFFFFFFu)];
    ++c[slots + slot(std::bit_cast<std::uint32_t>(v[j + 1]) & 0x7FFFFFFFu)];
  }
  if (even < n) ++c[slot(std::bit_cast<std::uint32_t>(v[even]) & 0x7FFFFFFFu)];
  for (std::size_t k = 0; k < edges_.size(); ++k) h.counts[k] += c[k] + c[slots + k];
  h.zeros += c[slots - 2] + c[2 * slots - 2];
  h.nans += c[slots - 1] + c[2 * slots - 1];
}

namespace {

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

// A task's buffers for one chunk of every model.
struct ChunkBuffers {
  ChunkBuffers(std::size_t models, std::size_t len)
      : base(len),
        tau(models, std::vector<float>(len)),
        rank(len),
        top(models, std::vector<std::uint8_t>(len)),
        counts(4, std::vector<std::uint16_t>(len)) {}
  std::vector<float> base;
  std::vector<std::vector<float>> tau;
  std::vector<float> rank;
  std::vector<std::vector<std::uint8_t>> top;
  std::vector<std::vector<std::uint16_t>> counts;  // pos, neg, top pos, top neg
};

// Every sum of one chunk whose task vectors (NaN as 0) and top marks are in b.
void accumulate(std::size_t models, std::size_t n, ChunkBuffers& b, Partial& out) {
  namespace k = kernels;
  for (std::size_t i = 0; i < models; ++i) k::add_model_sums(b.tau[i].data(), b.top[i].data(), n, out.models[i]);
  std::size_t p = 0;
  for (std::size_t i = 0; i < models; ++i)
    for (std::size_t j = i + 1; j < models; ++j, ++p)
      k::add_pair_sums(b.tau[i].data(), b.tau[j].data(), b.top[i].data(), b.top[j].data(), n, out.pairs[p]);
  for (auto& c : b.counts) std::fill_n(c.begin(), n, std::uint16_t{0});
  const k::SignCounts c{b.counts[0].data(), b.counts[1].data(), b.counts[2].data(), b.counts[3].data()};
  for (std::size_t i = 0; i < models; ++i) k::count_signs(b.tau[i].data(), b.top[i].data(), n, c);
  for (std::size_t i = 0; i < models; ++i)
    out.models[i].top_conflicts += k::top_conflicts(b.tau[i].data(), b.top[i].data(), n, c);
  k::add_group_sums(c, n, out.group);
}

class TensorAnalysis {
 public:
  TensorAnalysis(const TensorInputs& in, double top_fraction, std::int64_t chunk, ThreadPool& pool,
                 ProgressTracker& tracker, const MagnitudeBinner& binner)
      : in_(in), top_fraction_(top_fraction), chunk_(chunk), pool_(pool), tracker_(tracker), binner_(binner) {}

  // Model i's rank values: its overlap scores (NaN: never kept) or |tau| with NaN as 0.
  void ranks(std::int64_t first, std::int64_t n, const std::vector<char>& want, float* const* out,
             std::vector<float>& base) const {
    const auto m = static_cast<std::size_t>(n);
    bool base_read = false;
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (!want[i]) continue;
      const std::span<float> r(out[i], m);
      if (in_.field[i]) {
        in_.field[i]->scores(in_.field_index[i], first, r);
        in_.field[i]->release(in_.field_index[i], first, n);
        continue;
      }
      if (!base_read) {
        base.resize(m);
        in_.base->read_f32(first, base);
        base_read = true;
      }
      in_.x[i]->read_f32(first, r);
      in_.x[i]->release(first, n);
      kernels::subtract(r.data(), base.data(), m);
      kernels::zero_nans(r.data(), m);
      kernels::magnitudes(r.data(), m, r.data());
    }
    if (base_read) in_.base->release(first, n);
  }

  // Every model's exact top-k (k = int(top_fraction * numel), as mergekit counts). Ties at the cut
  // go by a per-model hash of the index: with the merge's lowest-index rule, bf16 task vectors
  // (few distinct magnitudes, millions tied at the cut) would all keep the same tied entries and
  // overstate the overlap.
  std::vector<TopCut> select() {
    const std::size_t models = in_.x.size();
    const std::int64_t numel = in_.base->numel();
    if (top_fraction_ >= 1) return std::vector<TopCut>(models, TopCut{0, TopCut::Ties::None, 0, 0});
    MergeModelParams mp;
    mp.density = top_fraction_;
    std::int64_t lo = 0, k = 0;
    merge_detail::magnitude_window(Sparsification::Magnitude, mp, numel, lo, k);
    const ChunkRanks read = [this](std::int64_t first, std::int64_t n, const std::vector<char>& want, float* const* out,
                                   std::vector<float>& base) { ranks(first, n, want, out, base); };
    return select_top_cuts(models, numel, k, chunk_, read, pool_, tracker_);
  }

  InterferenceStats run(std::vector<MagnitudeHistogram>& hist) {
    const std::size_t models = in_.x.size();
    const std::int64_t numel = in_.base->numel();
    const std::vector<TopCut> cut = select();

    std::vector<Partial> partial(chunks());
    std::mutex hist_mutex;
    pool_.parallel_for(partial.size(), 1, [&](std::size_t cb, std::size_t ce) {
      ChunkBuffers buf(models, static_cast<std::size_t>(chunk_));
      std::vector<MagnitudeHistogram> local(hist.size());
      for (std::size_t i = 0; i < models; ++i) local[i].counts.assign(hist[i].counts.size(), 0);
      for (std::size_t c = cb; c < ce; ++c) {
        const std::int64_t first = static_cast<std::int64_t>(c) * chunk_;
        const std::int64_t n = std::min(chunk_, numel - first);
        const auto m = static_cast<std::size_t>(n);
        in_.base->read_f32(first, std::span<float>(buf.base.data(), m));
        for (std::size_t i = 0; i < models; ++i) {
          float* t = buf.tau[i].data();
          in_.x[i]->read_f32(first, std::span<float>(t, m));
          kernels::subtract(t, buf.base.data(), m);
          binner_.add(local[i], t, m);
          kernels::zero_nans(t, m);
          if (in_.field[i])
            in_.field[i]->scores(in_.field_index[i], first, std::span<float>(buf.rank.data(), m));
          else
            kernels::magnitudes(t, m, buf.rank.data());
          cut[i].mark(buf.rank.data(), m, first, buf.top[i].data());
        }
        Partial& p = partial[c];
        p.models.resize(models);
        p.pairs.resize(models * (models - 1) / 2);
        accumulate(models, m, buf, p);
        release(first, n);
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
  // Every input's elements [first, first + n) are done with.
  void release(std::int64_t first, std::int64_t n) const {
    for (std::size_t i = 0; i < in_.x.size(); ++i) {
      if (in_.field[i]) in_.field[i]->release(in_.field_index[i], first, n);
      in_.x[i]->release(first, n);
    }
    in_.base->release(first, n);
  }

  std::size_t chunks() const { return static_cast<std::size_t>((in_.base->numel() + chunk_ - 1) / chunk_); }

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
    throw usage_error(
        base.path().string() + ": no floating-point tensor to analyse" +
        (o.include.empty() && o.exclude.empty() ? std::string() : " matches the include/exclude patterns"));
  }
}

}  // namespace

InterferenceReport analyze(const Checkpoint& base, const std::vector<const Checkpoint*>& models,
                           const InterferenceOptions& options, ThreadPool& pool, const JobControl& control,
                           std::int64_t chunk) {
  if (models.size() < 2)
    throw usage_error("interference: needs at least two fine-tuned models, got " + std::to_string(models.size()));
  if (!(options.top_fraction > 0 && options.top_fraction <= 1))
    throw usage_error("interference: top fraction " + std::to_string(options.top_fraction) + " is outside (0, 1]");
  if (!options.overlap_scores.empty() && options.overlap_scores.size() != models.size())
    throw usage_error("interference: " + std::to_string(options.overlap_scores.size()) + " overlap score maps for " +
                      std::to_string(models.size()) + " models (give one per fine-tuned model, or none)");
  if (models.size() > 65535) throw usage_error("interference: more than 65535 fine-tuned models");
  if (chunk <= 0 || chunk > (std::int64_t{1} << 30))
    throw usage_error("interference: the chunk size must be in [1, 2^30]");
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
  const std::uint64_t passes = 1 + (options.top_fraction < 1 ? kSelectionPasses : 0);
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
