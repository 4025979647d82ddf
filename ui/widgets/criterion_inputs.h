// A criterion request from the Importance dock turned into the core's inputs: the criterion and
// the base checkpoint or statistics file it needs, opened (on the worker thread that uses them).
#pragma once

#include <memory>

#include "criterion_panel.h"
#include "paramscope/importance.h"

namespace paramscope::ui {

struct OpenedCriterion {
  const paramscope::Criterion* criterion = nullptr;
  std::unique_ptr<paramscope::Checkpoint> base, stats;
  paramscope::CriterionInputs inputs;  ///< points into base and stats
};

/// The request's criterion with its inputs opened. Shared: score fields and pyramid readers
/// keep it alive as long as they read. throws Error(Usage) for an unknown criterion or a missing
/// base / statistics file, and what opening them throws.
std::shared_ptr<const OpenedCriterion> openCriterion(const ComputeRequest& request);

}  // namespace paramscope::ui
