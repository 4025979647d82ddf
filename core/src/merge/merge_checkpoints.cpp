// The streamed merge: tensor by tensor, chunk by chunk, straight into safetensors shards.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include <nlohmann/json.hpp>

#include "merge/merge_kernel.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"
#include "paramscope/merge.h"
#include "paramscope/writers.h"
#include "tensor/convert.h"

namespace paramscope {
namespace fs = std::filesystem;
namespace {

constexpr std::int64_t kBlock = 1 << 14;  // elements per worker task inside a writer chunk

// One output tensor: its inputs, its resolved parameters, its selections (built when its first
// chunk is asked for), its importance scorers and its statistics.
struct MergeItem {
  const Tensor* base = nullptr;
  std::vector<const Tensor*> x;
  MergeParams params;
  std::vector<MergeModelParams> mp;
  std::vector<std::unique_ptr<TensorScorer>> scorers;  ///< importance_weighted; empty: weighted mean
  DType out = DType::F32;
  bool copy = false;
  std::uint64_t bytes = 0;
  bool prepared = false;
  std::vector<merge_detail::Selection> sel;
  MergedTensorStats stats;
  std::mutex mutex;
};

bool magnitude_selected(const MergeParams& p, const MergeModelParams& mp) {
  const auto sp = merge_method_traits(p.method).sparsification;
  return p.method != MergeMethod::Linear && mp.density < 1 &&
         (sp == Sparsification::Magnitude || sp == Sparsification::MagnitudeOutliers);
}

DType output_dtype(const Tensor& t, const std::optional<DType>& chosen) {
  if (chosen) return *chosen;
  switch (t.dtype()) {
    case DType::F16:
    case DType::BF16:
    case DType::F32:
    case DType::F64:
      return t.dtype();
    default:
      return DType::F32;
  }
}

// Removes the staging folder (and out_dir if this merge created it) unless released.
struct StagingGuard {
  fs::path staging, out_dir;
  bool created_out = false, armed = true;
  ~StagingGuard() {
    if (!armed) return;
    std::error_code ec;
    fs::remove_all(staging, ec);
    if (created_out) fs::remove(out_dir, ec);  // only if empty
  }
};

class Merger {
 public:
  Merger(ThreadPool& pool, ProgressTracker& tracker) : pool_(pool), tracker_(tracker) {}

  void prepare(MergeItem& item) {
    const auto numel = item.base->numel();
    const MergeParams& params = item.params;
    const std::vector<MergeModelParams>& mp = item.mp;
    if (params.method == MergeMethod::Pcb) {
      const auto tau = [&item](std::size_t i, std::int64_t first, std::span<float> out) {
        std::vector<float> bb(out.size());
        item.x[i]->read_f32(first, out);
        item.base->read_f32(first, bb);
        for (std::size_t j = 0; j < out.size(); ++j) out[j] -= bb[j];
      };
      const auto parallel = [this](std::size_t count, const std::function<void(std::size_t, std::size_t)>& f) {
        pool_.parallel_for(count, 1, f);
      };
      item.sel = merge_detail::make_pcb_selections(params, item.x.size(), numel, tau, parallel);
      item.prepared = true;
      return;
    }
    for (std::size_t i = 0; i < item.x.size(); ++i) {
      std::vector<float> mags;
      const Tensor& xi = *item.x[i];
      const Tensor& b = *item.base;
      const auto read_mag = [&xi, &b](std::int64_t first, std::span<float> out) {
        std::vector<float> bb(out.size());
        xi.read_f32(first, out);
        b.read_f32(first, bb);
        for (std::size_t j = 0; j < out.size(); ++j) out[j] = merge_detail::selection_magnitude(out[j] - bb[j]);
      };
      if (magnitude_selected(params, mp[i])) {
        mags.resize(static_cast<std::size_t>(numel));
        const auto blocks = static_cast<std::size_t>((numel + kBlock * 4 - 1) / (kBlock * 4));
        pool_.parallel_for(blocks, 1, [&](std::size_t bb, std::size_t be) {
          for (std::size_t k = bb; k < be; ++k) {
            const std::int64_t first = static_cast<std::int64_t>(k) * kBlock * 4;
            const std::int64_t n = std::min<std::int64_t>(kBlock * 4, numel - first);
            read_mag(first, std::span<float>(mags.data() + first, static_cast<std::size_t>(n)));
            tracker_.advance(static_cast<std::uint64_t>(n));
          }
        });
      }
      item.sel.push_back(merge_detail::make_selection(params, mp[i], i, b.name(), numel, mags, read_mag));
    }
    item.prepared = true;
  }

  void fill(MergeItem& item, std::uint64_t offset, std::span<std::byte> out) {
    const std::uint32_t elem = dtype_info(item.out).block_bytes;
    const auto first = static_cast<std::int64_t>(offset / elem);
    const auto n = static_cast<std::int64_t>(out.size() / elem);
    if (!item.prepared) prepare(item);
    const bool linear = item.params.method == MergeMethod::Linear;
    const bool scored = !item.scorers.empty();
    const auto blocks = static_cast<std::size_t>((n + kBlock - 1) / kBlock);
    pool_.parallel_for(blocks, 1, [&](std::size_t bb, std::size_t be) {
      const std::size_t models = item.x.size();
      std::vector<float> buf(static_cast<std::size_t>(kBlock) * (models + 2));
      std::vector<float> scores(scored ? static_cast<std::size_t>(kBlock) * models : 0);
      std::vector<const float*> xp(models), sp(models);
      merge_detail::ChunkCounts counts;
      for (std::size_t k = bb; k < be; ++k) {
        const std::int64_t s = first + static_cast<std::int64_t>(k) * kBlock;
        const std::int64_t m = std::min<std::int64_t>(kBlock, first + n - s);
        const auto len = static_cast<std::size_t>(m);
        float* base = buf.data();
        float* merged = buf.data() + kBlock;
        if (!linear) item.base->read_f32(s, std::span<float>(base, len));
        for (std::size_t i = 0; i < models; ++i) {
          float* xi = buf.data() + static_cast<std::size_t>(kBlock) * (i + 2);
          item.x[i]->read_f32(s, std::span<float>(xi, len));
          xp[i] = xi;
          if (scored) {
            float* si = scores.data() + static_cast<std::size_t>(kBlock) * i;
            item.scorers[i]->score(s, std::span<const float>(xi, len), std::span<float>(si, len));
            sp[i] = si;
          }
        }
        merge_detail::merge_chunk(item.params, item.mp, item.sel, s, m, base, xp.data(), merged, counts, nullptr,
                                  scored ? sp.data() : nullptr);
        convert_from_f32(item.out, merged, len, out.data() + static_cast<std::size_t>(s - first) * elem);
        if (!linear) item.base->release(s, m);
        for (std::size_t i = 0; i < models; ++i) item.x[i]->release(s, m);
        if (scored)
          for (const auto& sc : item.scorers) sc->release(s, m);
        tracker_.advance(static_cast<std::uint64_t>(m));
      }
      const std::lock_guard lock(item.mutex);
      for (std::size_t i = 0; i < models; ++i) {
        item.stats.kept[i] += counts.kept[i];
        item.stats.contributed[i] += counts.contributed[i];
      }
      item.stats.sign_conflicts += counts.conflicts;
    });
    if (first + n == item.base->numel()) {  // done with this tensor
      item.sel.clear();
      item.scorers.clear();
    }
  }

 private:
  ThreadPool& pool_;
  ProgressTracker& tracker_;
};

}  // namespace

MergeSummary merge_checkpoints(const fs::path& out_dir, const Checkpoint& base, const std::vector<MergeInput>& models,
                               const MergeParams& params, const MergeOutputOptions& output, ThreadPool& pool,
                               const JobControl& control) {
  check_merge_params(params, models, &base);
  check_merge_alignment(base, models);
  const Criterion* criterion = nullptr;
  if (params.method == MergeMethod::ImportanceWeighted) {
    criterion = &CriterionRegistry::builtin().get(params.criterion);
    if (!criterion->info().elementwise)
      throw usage_error("merge: criterion '" + params.criterion + "' gives one value per matrix, not per element");
    const auto& accepted = criterion->info().params;
    for (const auto& [key, value] : params.criterion_params)
      if (!accepted.count(key)) {
        std::string known;
        for (const auto& [k, v] : accepted) known += (known.empty() ? "" : ", ") + k + "=" + v;
        throw usage_error(
            "merge: criterion " + params.criterion + " has no parameter '" + key + "'" +
            (known.empty() ? std::string(" (it takes none)") : " (parameters and defaults: " + known + ")"));
      }
  }
  const auto fractions = merge_layer_fractions(base);
  std::string first_fallback;
  bool any_scored = false;
  if (output.dtype && *output.dtype != DType::F32 && *output.dtype != DType::F16 && *output.dtype != DType::BF16)
    throw usage_error("merge: output dtype " + std::string(dtype_name(*output.dtype)) + ": expected F32, F16 or BF16");
  if (output.shard_bytes == 0) throw usage_error("merge: the shard size must be positive");

  // Plan: one item per base tensor, in the base's order, grouped into shards.
  std::vector<std::unique_ptr<MergeItem>> items;
  std::uint64_t total_units = 0;
  for (std::size_t ti = 0; ti < base.tensors().size(); ++ti) {
    const Tensor& t = base.tensors()[ti];
    auto item = std::make_unique<MergeItem>();
    item->base = &t;
    const auto& info = dtype_info(t.dtype());
    item->copy = !(info.is_float && info.readable);
    if (item->copy) {
      item->params = params;
      for (const auto& m : models) item->mp.push_back(m.params);
    } else {
      resolve_tensor_params(params, models, t.name(), fractions[ti], item->params, item->mp);
    }
    item->out = item->copy ? t.dtype() : output_dtype(t, output.dtype);
    item->bytes = storage_bytes(item->out, static_cast<std::uint64_t>(t.numel())).value_or(0);
    for (const auto& m : models) item->x.push_back(&m.checkpoint->at(t.name()));
    item->stats.name = t.name();
    item->stats.numel = t.numel();
    item->stats.copied = item->copy;
    item->stats.kept.assign(models.size(), 0);
    item->stats.contributed.assign(models.size(), 0);
    item->stats.params = item->mp;
    item->stats.lambda = item->params.lambda;
    item->stats.pcb_ratio = item->params.pcb_ratio;
    if (criterion && !item->copy) {
      // A tensor the criterion cannot score for every model (no statistics for it, a 1-D tensor
      // for wanda) falls back to the weighted mean; the reason is reported with the tensor.
      try {
        for (std::size_t i = 0; i < models.size(); ++i) {
          CriterionInputs in;
          in.base = &base;
          in.stats = models[i].stats;
          in.params = params.criterion_params;
          item->scorers.push_back(criterion->scorer(*item->x[i], in));
        }
        any_scored = true;
      } catch (const Error& e) {
        if (e.kind() != Error::Kind::Usage) throw;
        item->scorers.clear();
        item->stats.note = std::string("weighted mean: ") + e.what();
        if (first_fallback.empty()) first_fallback = e.what();
      }
    }
    auto passes = std::uint64_t{1};
    if (!item->copy)
      for (const auto& m : item->mp) passes += magnitude_selected(item->params, m) ? 1 : 0;
    total_units += passes * static_cast<std::uint64_t>(t.numel());
    items.push_back(std::move(item));
  }
  if (criterion && !any_scored && !first_fallback.empty())
    throw usage_error("merge: criterion '" + params.criterion + "' scored no tensor: " + first_fallback);
  std::vector<std::vector<MergeItem*>> shards(1);
  std::uint64_t shard_size = 0;
  for (auto& item : items) {
    if (!shards.back().empty() && shard_size + item->bytes > output.shard_bytes) {
      shards.emplace_back();
      shard_size = 0;
    }
    shards.back().push_back(item.get());
    shard_size += item->bytes;
  }

  StagingGuard guard;
  guard.out_dir = out_dir;
  std::error_code ec;
  if (!fs::exists(out_dir, ec)) {
    if (!fs::create_directories(out_dir, ec) && ec) throw io_error(out_dir, "cannot create folder: " + ec.message());
    guard.created_out = true;
  } else if (!fs::is_directory(out_dir, ec)) {
    throw io_error(out_dir, "exists and is not a folder");
  }
  guard.staging = out_dir / (".merge-tmp-" + std::to_string(::getpid()));
  fs::remove_all(guard.staging, ec);
  if (!fs::create_directory(guard.staging, ec)) throw io_error(guard.staging, "cannot create folder: " + ec.message());

  const std::string recipe = output.recipe_json.empty() ? merge_recipe_json(base, models, params) : output.recipe_json;
  const std::vector<std::pair<std::string, std::string>> metadata = {{"format", "pt"}, {"merge_recipe", recipe}};
  ProgressTracker tracker(control, total_units);
  Merger merger(pool, tracker);
  MergeSummary summary;
  std::vector<std::string> names;
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  char shard_name[64];
  for (std::size_t s = 0; s < shards.size(); ++s) {
    if (shards.size() == 1)
      std::snprintf(shard_name, sizeof shard_name, "model.safetensors");
    else
      std::snprintf(shard_name, sizeof shard_name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    std::vector<TensorToWrite> tensors;
    for (MergeItem* item : shards[s]) {
      weight_map[item->base->name()] = shard_name;
      summary.bytes += item->bytes;
      if (item->copy) {
        TensorToWrite w = TensorToWrite::from_tensor(*item->base, item->out);
        const std::uint32_t elem = dtype_info(item->out).block_bytes;
        w.fill = [inner = std::move(w.fill), &tracker, elem](std::uint64_t off, std::span<std::byte> out) {
          inner(off, out);
          tracker.advance(out.size() / elem);
        };
        tensors.push_back(std::move(w));
        continue;
      }
      tensors.push_back(
          {item->base->name(), item->out, item->base->shape(),
           [&merger, item](std::uint64_t off, std::span<std::byte> out) { merger.fill(*item, off, out); }});
    }
    write_safetensors(guard.staging / shard_name, tensors, metadata);
    names.emplace_back(shard_name);
  }
  if (shards.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", summary.bytes}};
    index["weight_map"] = weight_map;
    write_text_file(guard.staging / "model.safetensors.index.json", index.dump(2) + "\n");
    names.emplace_back("model.safetensors.index.json");
  }
  if (!base.config_json().empty()) {
    write_text_file(guard.staging / "config.json", base.config_json());
    names.emplace_back("config.json");
  }
  if (control.cancel) control.cancel->throw_if_cancelled();
  for (const auto& n : names) {
    fs::rename(guard.staging / n, out_dir / n, ec);
    if (ec) throw io_error(out_dir / n, "cannot move the merged file into place: " + ec.message());
    summary.files.push_back(out_dir / n);
  }
  guard.created_out = false;  // the folder now holds the result
  fs::remove_all(guard.staging, ec);
  guard.armed = false;
  tracker.finish();
  for (const auto& item : items) summary.tensors.push_back(std::move(item->stats));
  return summary;
}

}  // namespace paramscope
