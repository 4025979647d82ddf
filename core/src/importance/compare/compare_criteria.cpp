// compare_criteria: the units (each tensor, each block, the whole field) and the pair stream.
#include <map>

#include "importance/compare/compare_units.h"
#include "paramscope/error.h"

namespace paramscope::compare {
namespace {

void check_fields(const ScoreField& a, const ScoreField& b, double top_fraction) {
  if (!(top_fraction >= 0 && top_fraction <= 1))
    throw usage_error("compare: top fraction " + std::to_string(top_fraction) + " is outside [0, 1]");
  if (a.size() != b.size())
    throw usage_error("compare: the criteria score different tensor sets (" + std::to_string(a.size()) + " and " +
                      std::to_string(b.size()) + " tensors)");
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& ta = a.tensors()[i];
    const auto& tb = b.tensors()[i];
    if (ta.name != tb.name || ta.shape != tb.shape)
      throw usage_error("compare: tensor " + std::to_string(i) + " differs: '" + ta.name + "' " +
                        shape_string(ta.shape) + " and '" + tb.name + "' " + shape_string(tb.shape));
  }
}

CriteriaAgreement agree(const ScoreField& a, const ScoreField& b, std::vector<mask::UnitRange> ranges, std::string name,
                        double top_fraction, ThreadPool& pool, mask::StagedProgress& progress,
                        const CompareTuning& tuning) {
  const UnitPair unit{mask::RangeReader(a, ranges), mask::RangeReader(b, std::move(ranges))};
  CriteriaAgreement r = unit.a.elements() <= tuning.memory_unit
                            ? memory_agreement(unit, top_fraction, pool, progress, tuning)
                            : histogram_agreement(unit, top_fraction, pool, progress, tuning);
  r.name = std::move(name);
  return r;
}

std::uint64_t planned_elements(std::uint64_t n, const CompareTuning& tuning) {
  return n * (static_cast<std::int64_t>(n) <= tuning.memory_unit ? 1 : 3);
}

}  // namespace

void stream_pairs(const UnitPair& unit, const ChunkPlan& plan, const std::vector<std::size_t>* chunks, ThreadPool& pool,
                  const JobControl& control, const std::function<void(const Chunk&, std::span<const float>)>& fn) {
  mask::BufferPool buffers;
  auto with_b = [&](const Chunk& ch) {
    auto buf = buffers.get();
    const std::span<float> bv = buf.span(ch.values.size());
    const auto n = static_cast<std::int64_t>(bv.size());
    unit.b.read(ch.array, ch.first, bv);
    unit.b.release(ch.array, ch.first, n);
    fn(ch, bv);
  };
  if (chunks) {
    mask::stream_chunk_list(unit.a, plan, *chunks, pool, control, with_b);
  } else {
    stream_chunks(unit.a, plan, pool, control, with_b);
  }
  // Chunks release only the pages wholly inside them; those they share go now.
  for (std::size_t r = 0; r < unit.a.count(); ++r) {
    unit.a.release(r, 0, unit.a.numel(r));
    unit.b.release(r, 0, unit.b.numel(r));
  }
}

CriteriaComparison compare_criteria(const ScoreField& a, const ScoreField& b, double top_fraction, ThreadPool& pool,
                                    const JobControl& control, const CompareTuning& tuning) {
  check_fields(a, b, top_fraction);
  const auto& ts = a.tensors();
  // Blocks in model order; tensors outside any block form the unit named "".
  std::map<std::pair<std::size_t, std::string>, std::vector<mask::UnitRange>> blocks;
  std::vector<mask::UnitRange> all;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const mask::UnitRange r{i, 0, ts[i].numel};
    blocks[{ts[i].place.block.empty() ? SIZE_MAX : ts[i].block_rank, ts[i].place.block}].push_back(r);
    all.push_back(r);
  }
  std::uint64_t planned = planned_elements(a.elements(), tuning);
  for (const auto& t : ts) planned += planned_elements(static_cast<std::uint64_t>(t.numel), tuning);
  for (const auto& [key, ranges] : blocks) {
    std::uint64_t n = 0;
    for (const auto& r : ranges) n += static_cast<std::uint64_t>(r.count);
    planned += planned_elements(n, tuning);
  }
  mask::StagedProgress progress(control, planned);

  CriteriaComparison out;
  out.top_fraction = top_fraction;
  for (std::size_t i = 0; i < ts.size(); ++i)
    out.tensors.push_back(agree(a, b, {{i, 0, ts[i].numel}}, ts[i].name, top_fraction, pool, progress, tuning));
  for (auto& [key, ranges] : blocks)
    out.blocks.push_back(agree(a, b, std::move(ranges), key.second, top_fraction, pool, progress, tuning));
  out.overall = agree(a, b, std::move(all), "(all)", top_fraction, pool, progress, tuning);
  return out;
}

}  // namespace paramscope::compare

namespace paramscope {

CriteriaComparison compare_criteria(const ScoreField& a, const ScoreField& b, double top_fraction, ThreadPool& pool,
                                    const JobControl& control) {
  return compare::compare_criteria(a, b, top_fraction, pool, control, compare::CompareTuning{});
}

}  // namespace paramscope
