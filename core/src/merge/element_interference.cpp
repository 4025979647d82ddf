// element_interference: the maps of one tensor, streamed in chunks after each model's selections
// (TIES-style top-k at its density, and the preview method's own) are known.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "merge/merge_kernel.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/interference.h"

namespace paramscope {
namespace {

constexpr std::int64_t kBlock = 1 << 14;  // elements per worker task

bool magnitude_kind(Sparsification s) noexcept {
  return s == Sparsification::Magnitude || s == Sparsification::MagnitudeOutliers;
}

}  // namespace

ElementInterference element_interference(const Checkpoint& base, const std::vector<MergeInput>& models,
                                         const std::string& tensor, const MergeParams& preview, ThreadPool& pool,
                                         const JobControl& control) {
  if (models.size() < 2)
    throw usage_error("interference: needs at least two fine-tuned models, got " + std::to_string(models.size()));
  if (models.size() > 32)
    throw usage_error("interference: element maps take at most 32 models, got " + std::to_string(models.size()));
  for (const auto& m : models)
    if (!m.checkpoint) throw usage_error("interference: a model is missing");
  if (preview.method == MergeMethod::ImportanceWeighted)
    throw usage_error("interference: importance_weighted has no element preview (it needs importance maps); "
                      "preview another method");
  const Tensor* b = base.find(tensor);
  if (!b) throw usage_error(base.path().string() + ": no tensor '" + tensor + "'");
  if (!dtype_info(b->dtype()).is_float)
    throw usage_error(base.path().string() + ": tensor '" + tensor + "' is not floating point (" +
                      std::string(dtype_name(b->dtype())) + ")");
  // The preview's parameters for this tensor (per-tensor settings and gradients resolved).
  std::size_t index = 0;
  while (&base.tensors()[index] != b) ++index;
  MergeParams params;
  std::vector<MergeModelParams> mp;
  resolve_tensor_params(preview, models, tensor, merge_layer_fractions(base)[index], params, mp);
  std::vector<MergeInput> resolved = models;
  for (std::size_t i = 0; i < models.size(); ++i) resolved[i].params = mp[i];
  check_merge_params(params, resolved);
  std::vector<const Tensor*> x;
  for (const auto& m : models) {
    const Tensor* t = m.checkpoint->find(tensor);
    if (!t)
      throw bad_input(m.checkpoint->path(),
                      "tensor '" + tensor + "' of the base (" + base.path().string() + ") is missing");
    if (t->shape() != b->shape())
      throw bad_input(m.checkpoint->path(), "tensor '" + tensor + "' has shape " + shape_string(t->shape()) +
                                                ", the base has " + shape_string(b->shape()));
    x.push_back(t);
  }

  const std::int64_t numel = b->numel();
  const std::size_t n_models = models.size();
  const MergeParams ties = default_merge_params(MergeMethod::Ties);
  const Sparsification preview_kind = merge_method_traits(params.method).sparsification;
  const bool linear = params.method == MergeMethod::Linear;
  const bool pcb = params.method == MergeMethod::Pcb;
  const bool preview_is_ties_trim = !linear && preview_kind == Sparsification::Magnitude;
  std::uint64_t units = static_cast<std::uint64_t>(numel);
  for (const auto& p : mp) {
    if (p.density < 1) units += static_cast<std::uint64_t>(numel);
    if (!linear && !pcb && magnitude_kind(preview_kind) && !preview_is_ties_trim && p.density < 1)
      units += static_cast<std::uint64_t>(numel);
  }
  if (pcb) units += 2 * static_cast<std::uint64_t>(numel);  // not counted inside: a rough share
  ProgressTracker tracker(control, units);

  const auto read_mag = [&](std::size_t i, std::int64_t first, std::span<float> out) {
    std::vector<float> bb(out.size());
    x[i]->read_f32(first, out);
    b->read_f32(first, bb);
    for (std::size_t j = 0; j < out.size(); ++j) out[j] = merge_detail::selection_magnitude(out[j] - bb[j]);
  };
  // One model's selection under `params`; |tau| of the whole tensor is read only when needed.
  const auto select = [&](const MergeParams& by, std::size_t i) {
    std::vector<float> mags;
    if (by.method != MergeMethod::Linear && magnitude_kind(merge_method_traits(by.method).sparsification) &&
        mp[i].density < 1) {
      mags.resize(static_cast<std::size_t>(numel));
      const auto blocks = static_cast<std::size_t>((numel + kBlock - 1) / kBlock);
      pool.parallel_for(blocks, 1, [&](std::size_t bb, std::size_t be) {
        for (std::size_t k = bb; k < be; ++k) {
          const std::int64_t first = static_cast<std::int64_t>(k) * kBlock;
          const std::int64_t n = std::min(kBlock, numel - first);
          read_mag(i, first, std::span<float>(mags.data() + first, static_cast<std::size_t>(n)));
          tracker.advance(static_cast<std::uint64_t>(n));
        }
      });
    }
    const auto reread = [&](std::int64_t first, std::span<float> out) { read_mag(i, first, out); };
    return merge_detail::make_selection(by, mp[i], i, tensor, numel, mags, reread);
  };
  std::vector<merge_detail::Selection> trim, sel;
  for (std::size_t i = 0; i < n_models; ++i) {
    trim.push_back(select(ties, i));
    if (!pcb) sel.push_back(preview_is_ties_trim ? trim.back() : select(params, i));
  }
  if (pcb) {
    const auto tau = [&](std::size_t i, std::int64_t first, std::span<float> out) {
      std::vector<float> bb(out.size());
      x[i]->read_f32(first, out);
      b->read_f32(first, bb);
      for (std::size_t j = 0; j < out.size(); ++j) out[j] -= bb[j];
    };
    const auto parallel = [&pool](std::size_t count, const std::function<void(std::size_t, std::size_t)>& f) {
      pool.parallel_for(count, 1, f);
    };
    sel = merge_detail::make_pcb_selections(params, n_models, numel, tau, parallel);
    tracker.advance(2 * static_cast<std::uint64_t>(numel));
  }

  ElementInterference r;
  r.tensor = tensor;
  r.shape = b->shape();
  r.model_count = n_models;
  const auto total = static_cast<std::size_t>(numel);
  r.elected_sign.resize(total);
  r.disagree.resize(total);
  r.dominant.resize(total);
  r.contributes.resize(total);
  r.merged_delta.resize(total);
  const auto blocks = static_cast<std::size_t>((numel + kBlock - 1) / kBlock);
  pool.parallel_for(blocks, 1, [&](std::size_t bb, std::size_t be) {
    const auto len = static_cast<std::size_t>(kBlock);
    std::vector<float> buf(len * (n_models + 2));
    std::vector<const float*> xp(n_models);
    std::vector<double> wd(n_models);
    merge_detail::ChunkCounts counts;
    for (std::size_t k = bb; k < be; ++k) {
      const std::int64_t first = static_cast<std::int64_t>(k) * kBlock;
      const std::int64_t n = std::min(kBlock, numel - first);
      const auto m = static_cast<std::size_t>(n);
      const auto at = static_cast<std::size_t>(first);
      float* bv = buf.data();
      float* merged = buf.data() + len;
      b->read_f32(first, std::span<float>(bv, m));
      for (std::size_t i = 0; i < n_models; ++i) {
        float* xi = buf.data() + len * (i + 2);
        x[i]->read_f32(first, std::span<float>(xi, m));
        xp[i] = xi;
      }
      for (std::size_t j = 0; j < m; ++j) {
        const std::int64_t idx = first + static_cast<std::int64_t>(j);
        double sum = 0;
        bool any = false;
        float largest = 0;
        int dominant = -1;
        for (std::size_t i = 0; i < n_models; ++i) {
          const float raw = xp[i][j] - bv[j];
          const float t = raw == raw ? raw : 0.0f;  // NaN deltas count as zero
          const float a = std::fabs(t);
          if (a > largest) {  // strict: ties keep the lower index
            largest = a;
            dominant = static_cast<int>(i);
          }
          wd[i] = trim[i].keep(idx, merge_detail::selection_magnitude(raw)) ? mp[i].weight * static_cast<double>(t)
                                                                            : 0.0;
          sum += wd[i];
          any = any || wd[i] != 0;
        }
        // As the merge elects (merge_chunk): a tie elects +, so the maps agree with `contributes`.
        const int elected = !any ? 0 : (sum >= 0 ? 1 : -1);
        int disagree = 0;
        for (std::size_t i = 0; i < n_models; ++i) disagree += wd[i] * elected < 0;
        r.elected_sign[at + j] = static_cast<std::int8_t>(elected);
        r.disagree[at + j] = static_cast<std::uint8_t>(disagree);
        r.dominant[at + j] = static_cast<std::int8_t>(dominant);
      }
      merge_detail::merge_chunk(params, mp, sel, first, n, bv, xp.data(), merged, counts, r.contributes.data() + at);
      for (std::size_t j = 0; j < m; ++j) r.merged_delta[at + j] = merged[j] - bv[j];
      b->release(first, n);
      for (const Tensor* t : x) t->release(first, n);
      tracker.advance(static_cast<std::uint64_t>(n));
    }
  });
  tracker.finish();
  return r;
}

}  // namespace paramscope
