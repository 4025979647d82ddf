#include "interference_job.h"

#include "paramscope/checkpoint.h"

namespace paramscope::ui {

Job::Work interferenceWork(InterferenceRequest request,
                           std::function<void(std::shared_ptr<const InterferenceReport>)> deliver) {
  return [request = std::move(request), deliver = std::move(deliver)](const JobControl& control) {
    std::vector<const Checkpoint*> models;
    for (const auto& m : request.models) models.push_back(m.get());
    InterferenceOptions options;
    options.top_fraction = request.topFraction;
    auto report = std::make_shared<const InterferenceReport>(
        analyze_interference(*request.base, models, options, ThreadPool::global(), control));
    // The checkpoints stay alive with the closure until the result is shown.
    return std::function<void()>([deliver, report, keep = request] { deliver(report); });
  };
}

Job::Work elementPreviewWork(ElementPreviewRequest request,
                             std::function<void(std::shared_ptr<const ElementInterference>)> deliver) {
  return [request = std::move(request), deliver = std::move(deliver)](const JobControl& control) {
    std::vector<MergeInput> models;
    for (const auto& m : request.models) {
      MergeInput in;
      in.checkpoint = m.get();
      in.params.weight = 1;
      in.params.density = request.density;
      models.push_back(std::move(in));
    }
    auto maps = std::make_shared<const ElementInterference>(
        element_interference(*request.base, models, request.tensor, request.params, ThreadPool::global(), control));
    return std::function<void()>([deliver, maps, keep = request] { deliver(maps); });
  };
}

}  // namespace paramscope::ui
