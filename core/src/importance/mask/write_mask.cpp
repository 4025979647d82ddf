// Writing a mask: the selection's rules turn scores into mask bytes as the safetensors writer
// asks for them, so no whole-model mask is ever held in memory.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "importance/mask/mask_plan.h"
#include "paramscope/error.h"
#include "paramscope/writers.h"

namespace paramscope::mask {

MaskSummary write_mask(const std::filesystem::path& path, const ScoreField& field, const MaskSpec& spec, DType dtype,
                       ThreadPool& pool, const JobControl& control,
                       const std::vector<std::pair<std::string, std::string>>& metadata, const MaskTuning& tuning) {
  if (dtype != DType::BOOL && dtype != DType::U8)
    throw usage_error(path.string() + ": a mask is written as BOOL or U8, not " + std::string(dtype_name(dtype)));
  const std::uint64_t total = field.elements();
  StagedProgress progress(control, total * (planned_passes(spec) + 1));
  MaskPlan plan = plan_mask(field, spec, pool, progress, tuning, false);
  MaskSummary& sum = plan.summary;

  std::vector<std::pair<std::string, std::string>> md = {
      {"paramscope.mask", spec.describe()},
      {"paramscope.mask.kept", std::to_string(sum.kept)},
      {"paramscope.mask.total", std::to_string(sum.total)},
  };
  if (sum.threshold) md.emplace_back("paramscope.mask.threshold", fmt::format("{}", *sum.threshold));
  if (spec.scope == MaskScope::Global) md.emplace_back("paramscope.mask.ties_kept", std::to_string(sum.ties_kept));
  if (spec.scope == MaskScope::NM) {
    nlohmann::json whole = nlohmann::json::array();
    for (const auto& t : sum.tensors)
      if (t.kept_whole) whole.push_back(t.name);
    md.emplace_back("paramscope.mask.kept_whole", whole.dump());
  }
  md.insert(md.end(), metadata.begin(), metadata.end());

  const auto& ts = field.tensors();
  std::vector<std::int64_t> written(ts.size(), 0);
  const JobControl jc = progress.pass(total);
  ProgressTracker tracker(jc, total);
  std::vector<TensorToWrite> tensors;
  tensors.reserve(ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i)
    // Mask elements are one byte, so byte offsets are element positions. The writer fills each
    // tensor in order from one thread; the rule spreads the work over the pool.
    tensors.push_back({ts[i].name, dtype, ts[i].shape, [&, i](std::uint64_t offset, std::span<std::byte> out) {
                         const auto first = static_cast<std::int64_t>(offset);
                         written[i] +=
                             apply_rule(field, i, plan.rules[i], first, first + static_cast<std::int64_t>(out.size()),
                                        out.data(), pool, &tracker);
                       }});
  write_safetensors(path, tensors, md);
  tracker.finish();
  if (!plan.tensor_counts)
    for (std::size_t i = 0; i < ts.size(); ++i) sum.tensors[i].kept = written[i];
  std::int64_t kept = 0;
  for (std::int64_t w : written) kept += w;
  // Only a checkpoint rewritten while it was read can get here.
  if (kept != sum.kept)
    throw io_error(path, fmt::format("the scores changed while the mask was written ({} kept, {} selected)", kept,
                                     sum.kept));
  return sum;
}

}  // namespace paramscope::mask

namespace paramscope {

MaskSummary write_mask(const std::filesystem::path& path, const ScoreField& field, const MaskSpec& spec, DType dtype,
                       ThreadPool& pool, const JobControl& control,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  return mask::write_mask(path, field, spec, dtype, pool, control, metadata, mask::MaskTuning{});
}

}  // namespace paramscope
