// The attribution methods as `attribute` and `evaluate` offer them: their options, and one call
// that runs a method by name on a batch.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "paramscope/attribution.h"
#include "paramscope/engine.h"
#include "paramscope/jobs.h"

namespace paramscope::cli {

/// Every method's options; each method reads the ones it uses.
struct MethodOptions {
  std::vector<std::int64_t> targets;  ///< one class, or one per sample; empty: the top prediction
  std::string score;                  ///< "logit" or "prob"; "": the method's default
  std::string input_name, output_name;
  std::vector<int> axes;  ///< spatial axes (RISE grid, blur, faithfulness features)
  // RISE
  xai::RiseOptions rise;
  std::string mask_file;
  // DeepLIFT
  std::string rule = "rescale";
  std::string layer;
  std::string baseline = "zeros";  ///< zeros | constant:V | blur[:SIGMA] | mean:FILE.npy | FILE.npy
  std::string shap_baselines;      ///< FILE.npy of reference samples for deeplift-shap
  std::int64_t shap_count = 16;    ///< at most this many of them
  // Integrated Gradients, SmoothGrad
  xai::IntegratedGradientsOptions ig;
  std::string ig_method = "gausslegendre";
  xai::SmoothGradOptions smooth;
};

/// The methods `--method` accepts, in the order tables list them.
const std::vector<std::string>& method_names();

/// Registers the options of every method on cmd.
void add_method_options(CLI::App& cmd, MethodOptions& o);

/// The target for a method ("rise" explains probabilities by default, the others logits).
xai::Target target_for(const std::string& method, const MethodOptions& o);

/// The baseline batch for x that o.baseline names. throws Error(Usage) for an unknown form, and
/// what read_npy and make_baseline throw.
Array baseline_for(const Array& x, const MethodOptions& o);

/// Runs one method on the batch x. progress sees RISE's partial maps. throws Error(Usage) for
/// an unknown method, and what the method throws.
xai::Attribution run_method(const engine::Model& model, const Array& x, const std::string& method,
                            const MethodOptions& o, const JobControl& control);

}  // namespace paramscope::cli
