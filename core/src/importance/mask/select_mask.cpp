// Mask selection: a rule per tensor from the spec, and the counts of what the rules keep.
#include <cmath>
#include <limits>

#include "importance/mask/mask_plan.h"
#include "importance/mask/topk_select.h"
#include "paramscope/error.h"

namespace paramscope::mask {
namespace {

/// The smallest float >= t, so that comparing float scores with it is "score >= t" exactly.
float float_at_least(double t) {
  float f = static_cast<float>(t);
  if (static_cast<double>(f) < t) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

}  // namespace

std::uint64_t planned_passes(const MaskSpec& spec) {
  return spec.scope == MaskScope::Global || spec.scope == MaskScope::Tensor ? 2 : 1;
}

void check_spec([[maybe_unused]] const ScoreField& field, const MaskSpec& spec) {
  switch (spec.scope) {
    case MaskScope::Global:
    case MaskScope::Tensor:
    case MaskScope::Row:
      if (spec.count < 0 && !(spec.fraction >= 0 && spec.fraction <= 1))
        throw usage_error("mask: fraction " + std::to_string(spec.fraction) + " is outside [0, 1]");
      break;
    case MaskScope::NM:
      if (spec.m < 1 || spec.m > MaskSpec::kMaxGroup || spec.n < 0 || spec.n > spec.m)
        throw usage_error("mask: " + spec.describe() + " needs 0 <= N <= M <= " + std::to_string(MaskSpec::kMaxGroup));
      break;
    case MaskScope::Threshold:
      if (!std::isfinite(spec.threshold)) throw usage_error("mask: the threshold must be a finite number");
      break;
  }
}

MaskPlan plan_mask(const ScoreField& field, const MaskSpec& spec, ThreadPool& pool, StagedProgress& progress,
                   const MaskTuning& tuning, bool need_tensor_counts) {
  check_spec(field, spec);
  const auto& ts = field.tensors();
  const std::size_t nt = ts.size();
  MaskPlan plan;
  plan.rules.resize(nt);
  MaskSummary& sum = plan.summary;
  for (const auto& t : ts) {
    sum.tensors.push_back({t.name, 0, t.numel, false});
    sum.total += t.numel;
  }
  auto k_of = [&](std::int64_t n) {
    return spec.count >= 0 ? std::min(spec.count, n) : fraction_count(spec.fraction, n);
  };
  std::vector<char> known(nt, 0);
  std::int64_t global_kept = -1;

  // Whole tensors as top-k units: small ones in memory (in parallel), large ones streamed.
  auto select_tensors = [&](const std::vector<std::size_t>& which) {
    std::vector<std::size_t> small;
    std::uint64_t small_elems = 0;
    for (std::size_t i : which) {
      if (ts[i].numel <= tuning.memory_unit) {
        small.push_back(i);
        small_elems += static_cast<std::uint64_t>(ts[i].numel);
        continue;
      }
      const RangeReader reader(field, {{i, 0, ts[i].numel}});
      const TopkResult r = select_topk_streamed(reader, tuning.chunk, k_of(ts[i].numel), pool, progress);
      plan.rules[i].cut = r.cut;
      sum.tensors[i].kept = r.kept;
      known[i] = 1;
    }
    const JobControl jc = progress.pass(small_elems);
    ProgressTracker tracker(jc, small_elems);
    pool.parallel_for(small.size(), 1, [&](std::size_t b, std::size_t e) {
      std::vector<float> v;
      std::vector<std::uint32_t> scratch;
      for (std::size_t p = b; p < e; ++p) {
        const std::size_t i = small[p];
        v.resize(static_cast<std::size_t>(ts[i].numel));
        field.scores(i, 0, v);
        field.release(i, 0, ts[i].numel);
        const TopkResult r = select_topk_memory(v, k_of(ts[i].numel), scratch);
        plan.rules[i].cut = r.cut;
        sum.tensors[i].kept = r.kept;
        known[i] = 1;
        tracker.advance(static_cast<std::uint64_t>(ts[i].numel));
      }
    });
    tracker.finish();
  };

  switch (spec.scope) {
    case MaskScope::Global: {
      std::vector<UnitRange> ranges;
      for (std::size_t i = 0; i < nt; ++i) ranges.push_back({i, 0, ts[i].numel});
      const RangeReader reader(field, std::move(ranges));
      const TopkResult r = select_topk_streamed(reader, tuning.chunk, k_of(sum.total), pool, progress);
      for (std::size_t i = 0; i < nt; ++i) plan.rules[i].cut = r.cut.shifted(reader.offset(i));
      sum.threshold = r.threshold;
      sum.ties_kept = r.ties_kept;
      if (!need_tensor_counts) {
        sum.kept = r.kept;  // the writer counts per tensor as it writes
        return plan;
      }
      global_kept = r.kept;
      break;
    }
    case MaskScope::Tensor: {
      std::vector<std::size_t> all(nt);
      for (std::size_t i = 0; i < nt; ++i) all[i] = i;
      select_tensors(all);
      break;
    }
    case MaskScope::Row: {
      std::vector<std::size_t> whole;
      for (std::size_t i = 0; i < nt; ++i) {
        const auto& t = ts[i];
        if (t.shape.size() < 2) {
          whole.push_back(i);
          continue;
        }
        TensorRule& rule = plan.rules[i];
        if (t.numel == 0) {
          known[i] = 1;
          continue;
        }
        rule.row_len = t.numel / t.shape[0];
        if (rule.row_len <= tuning.memory_unit) {
          rule.kind = RuleKind::Rows;
          rule.row_k = k_of(rule.row_len);
          continue;
        }
        rule.kind = RuleKind::RowCuts;
        for (std::int64_t row = 0; row < t.shape[0]; ++row) {
          const RangeReader reader(field, {{i, row * rule.row_len, rule.row_len}});
          const TopkResult r = select_topk_streamed(reader, tuning.chunk, k_of(rule.row_len), pool, progress);
          rule.row_cuts.push_back(r.cut);
          sum.tensors[i].kept += r.kept;
        }
        known[i] = 1;
      }
      select_tensors(whole);
      break;
    }
    case MaskScope::NM:
      for (std::size_t i = 0; i < nt; ++i) {
        const auto& shape = ts[i].shape;
        TensorRule& rule = plan.rules[i];
        if (shape.size() < 2 || shape[1] % spec.m != 0) {  // not groupable: dense, as ASP skips it
          rule.cut = Cut::all();
          sum.tensors[i].kept_whole = true;
          continue;
        }
        rule.kind = RuleKind::NM;
        rule.n = spec.n;
        rule.m = spec.m;
        rule.stride = 1;
        for (std::size_t d = 2; d < shape.size(); ++d) rule.stride *= shape[d];
      }
      break;
    case MaskScope::Threshold: {
      const float t = float_at_least(spec.threshold);
      for (auto& rule : plan.rules) rule.cut = Cut::at_least(t);
      sum.threshold = static_cast<float>(spec.threshold);
      break;
    }
  }

  // Count what the rules that depend on every element keep (rows, N:M groups, thresholds).
  std::uint64_t elems = 0;
  for (std::size_t i = 0; i < nt; ++i)
    if (!known[i]) elems += static_cast<std::uint64_t>(ts[i].numel);
  if (elems) {
    const JobControl jc = progress.pass(elems);
    ProgressTracker tracker(jc, elems);
    for (std::size_t i = 0; i < nt; ++i)
      if (!known[i]) sum.tensors[i].kept = apply_rule(field, i, plan.rules[i], 0, ts[i].numel, nullptr, pool, &tracker);
    tracker.finish();
  }
  for (const auto& t : sum.tensors) sum.kept += t.kept;
  if (global_kept >= 0 && sum.kept != global_kept) throw usage_error("mask: the scores changed between passes");
  reset_tie_budgets(plan.rules);
  plan.tensor_counts = true;
  return plan;
}

MaskSummary select_mask(const ScoreField& field, const MaskSpec& spec, ThreadPool& pool, const JobControl& control,
                        const MaskTuning& tuning) {
  StagedProgress progress(control, field.elements() * planned_passes(spec));
  return plan_mask(field, spec, pool, progress, tuning, true).summary;
}

}  // namespace paramscope::mask

namespace paramscope {

MaskSummary select_mask(const ScoreField& field, const MaskSpec& spec, ThreadPool& pool, const JobControl& control) {
  return mask::select_mask(field, spec, pool, control, mask::MaskTuning{});
}

}  // namespace paramscope
