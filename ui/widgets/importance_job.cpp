#include "importance_job.h"

#include "paramscope/error.h"

namespace paramscope::ui {

Job::Work importanceWork(CheckpointPtr checkpoint, ComputeRequest request,
                         std::function<void(std::shared_ptr<const ImportanceResult>)> deliver) {
  return [checkpoint = std::move(checkpoint), request = std::move(request),
          deliver = std::move(deliver)](const JobControl& control) -> std::function<void()> {
    const Criterion& criterion = CriterionRegistry::builtin().get(request.criterion.toStdString());
    std::unique_ptr<Checkpoint> base, stats;
    CriterionInputs inputs;
    if (criterion.info().needs_base) {
      if (request.base.isEmpty()) throw usage_error("criterion " + criterion.info().name + " needs a base checkpoint");
      base = std::make_unique<Checkpoint>(open_checkpoint(request.base.toStdString()));
      inputs.base = base.get();
    }
    if (!criterion.info().needs_stats.empty()) {
      if (request.stats.isEmpty())
        throw usage_error("criterion " + criterion.info().name + " needs a statistics file (docs/statistics.md)");
      stats = std::make_unique<Checkpoint>(open_checkpoint(request.stats.toStdString()));
      inputs.stats = stats.get();
    }
    const auto tensors = select_tensors(*checkpoint, {});
    const Granularity g = parse_granularity(request.granularity.toStdString());
    const Reduction r = parse_reduction(request.reduction.toStdString());
    auto result = std::make_shared<ImportanceResult>();
    result->request = request;
    result->checkpoint = checkpoint;
    ThreadPool& pool = ThreadPool::global();
    if (criterion.info().elementwise) {
      const auto field = make_score_field(*checkpoint, tensors, criterion, inputs);
      result->maps = reduce_scores(*field, g, r, HeadConfig::from_checkpoint(*checkpoint), pool, control);
    } else {
      result->maps = matrix_scores(*checkpoint, tensors, criterion, inputs, r, pool, control);
    }
    for (const auto& t : result->maps.tensors) result->tensorScores[t.name] = t.value(r);
    for (const auto& b : result->maps.blocks) result->blockScores[b.name] = b.value(r);
    return [deliver, result] { deliver(result); };
  };
}

}  // namespace paramscope::ui
