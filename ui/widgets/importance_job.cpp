#include "importance_job.h"

#include "criterion_inputs.h"
#include "paramscope/error.h"

namespace paramscope::ui {

Job::Work importanceWork(CheckpointPtr checkpoint, ComputeRequest request,
                         std::function<void(std::shared_ptr<const ImportanceResult>)> deliver) {
  return [checkpoint = std::move(checkpoint), request = std::move(request),
          deliver = std::move(deliver)](const JobControl& control) -> std::function<void()> {
    const auto opened = openCriterion(request);
    const Criterion& criterion = *opened->criterion;
    const auto tensors = select_tensors(*checkpoint, {});
    const Granularity g = parse_granularity(request.granularity.toStdString());
    const Reduction r = parse_reduction(request.reduction.toStdString());
    auto result = std::make_shared<ImportanceResult>();
    result->request = request;
    result->checkpoint = checkpoint;
    ThreadPool& pool = ThreadPool::global();
    if (criterion.info().elementwise) {
      const auto field = make_score_field(*checkpoint, tensors, criterion, opened->inputs);
      result->maps = reduce_scores(*field, g, r, HeadConfig::from_checkpoint(*checkpoint), pool, control);
    } else {
      result->maps = matrix_scores(*checkpoint, tensors, criterion, opened->inputs, r, pool, control);
    }
    for (const auto& t : result->maps.tensors) result->tensorScores[t.name] = t.value(r);
    for (const auto& b : result->maps.blocks) result->blockScores[b.name] = b.value(r);
    for (const std::string& kind : figures::surface_kinds(result->maps, *checkpoint))
      result->surfaces.emplace_back(kind, figures::surface_of_neurons(result->maps, *checkpoint, kind));
    return [deliver, result] { deliver(result); };
  };
}

}  // namespace paramscope::ui
