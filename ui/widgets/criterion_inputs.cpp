#include "criterion_inputs.h"

#include "paramscope/error.h"

namespace paramscope::ui {

std::shared_ptr<const OpenedCriterion> openCriterion(const ComputeRequest& request) {
  auto o = std::make_shared<OpenedCriterion>();
  o->criterion = &CriterionRegistry::builtin().get(request.criterion.toStdString());
  const CriterionInfo& info = o->criterion->info();
  if (info.needs_base) {
    if (request.base.isEmpty()) throw usage_error("criterion " + info.name + " needs a base checkpoint");
    o->base = std::make_unique<Checkpoint>(open_checkpoint(request.base.toStdString()));
    o->inputs.base = o->base.get();
  }
  if (!info.needs_stats.empty()) {
    if (request.stats.isEmpty())
      throw usage_error("criterion " + info.name + " needs a statistics file (docs/statistics.md)");
    o->stats = std::make_unique<Checkpoint>(open_checkpoint(request.stats.toStdString()));
    o->inputs.stats = o->stats.get();
  }
  return o;
}

}  // namespace paramscope::ui
