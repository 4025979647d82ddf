// The work of an importance job started from the GUI: the same core calls as
// `paramscope-cli importance`, run on a worker thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "checkpoint_tree_model.h"
#include "criterion_panel.h"
#include "job.h"
#include "paramscope/figures/figure_data.h"
#include "paramscope/importance.h"

namespace paramscope::ui {

struct ImportanceResult {
  ComputeRequest request;
  CheckpointPtr checkpoint;
  paramscope::ReducedMaps maps;
  std::map<std::string, double> tensorScores, blockScores;  ///< the request's reduction of each
  /// Per module kind, the scores over (block, neuron) for the 3-D view (neuron granularities only);
  /// made on the worker, as they can take a while for a large model.
  std::vector<std::pair<std::string, figures::SurfaceGrid>> surfaces;
};

/// Opens the base or statistics file the request names, scores the checkpoint's default tensor
/// selection and reduces it; deliver runs on the GUI thread with the result.
Job::Work importanceWork(CheckpointPtr checkpoint, ComputeRequest request,
                         std::function<void(std::shared_ptr<const ImportanceResult>)> deliver);

}  // namespace paramscope::ui
