// The work of the merge dashboard's jobs: the same core calls as `paramscope-cli interfere`, run
// on a worker thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint_tree_model.h"
#include "job.h"
#include "paramscope/interference.h"

namespace paramscope::ui {

struct InterferenceRequest {
  CheckpointPtr base;
  std::vector<CheckpointPtr> models;
  double topFraction = 0.2;
};

/// Task-vector interference of the models against the base, every float tensor.
Job::Work interferenceWork(InterferenceRequest request,
                           std::function<void(std::shared_ptr<const paramscope::InterferenceReport>)> deliver);

struct ElementPreviewRequest {
  CheckpointPtr base;
  std::vector<CheckpointPtr> models;
  std::string tensor;
  paramscope::MergeParams params;  ///< the method previewed
  double density = 0.2;            ///< every model's density (weight 1 each)
};

/// The element maps of one tensor under a merge method.
Job::Work elementPreviewWork(ElementPreviewRequest request,
                             std::function<void(std::shared_ptr<const paramscope::ElementInterference>)> deliver);

}  // namespace paramscope::ui
