// The work of the Attributions tab's jobs: opening an ONNX model and its inputs, the model's top
// predictions for a sample, and one attribution method with its deletion/insertion curves; the
// same core calls as `paramscope-cli attribute` and `evaluate`, run on a worker thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <QString>

#include "job.h"
#include "paramscope/array.h"
#include "paramscope/attribution.h"
#include "paramscope/engine.h"

namespace paramscope::ui {

class AttributionDashboard;

/// Lets a worker post to a dashboard while it exists: the dashboard's destructor clears target
/// under the lock, so a post never races with the destruction (Qt drops events posted to an
/// object that is then destroyed).
struct PostGuard {
  std::mutex mutex;
  AttributionDashboard* target = nullptr;
};

/// A model and the samples of its input files, each a batch of one.
struct AttributionSamples {
  std::shared_ptr<const engine::Model> model;
  struct Sample {
    QString label;  ///< "inputs.npy #3", "cat.png"
    Array x;        ///< [1, ...] in the model input's type
  };
  std::vector<Sample> samples;
};

/// Loads the ONNX model and reads the inputs for its (single, or first) input: PNG/JPEG images
/// resized to the input's fixed size and channels (values / 255), NPY files (a batch, or one
/// sample without its batch axis) and NPZ archives (the member named like the input, or x,
/// inputs, input, images, data). throws what engine::Model::load, read_image, read_npy and
/// read_npz throw, and Error(Usage) for inputs that do not fit the model.
Job::Work openAttributionWork(std::string model, std::vector<std::string> inputs,
                              std::function<void(std::shared_ptr<const AttributionSamples>)> deliver);

struct Prediction {
  std::int64_t cls = 0;
  double probability = 0;  ///< softmax of the first output
};

/// The k most probable classes of the model's first output on x (a batch of one), best first.
Job::Work predictWork(std::shared_ptr<const engine::Model> model, Array x, int k,
                      std::function<void(std::vector<Prediction>)> deliver);

/// The methods the tab offers, in the order it shows them.
enum class AttributionMethod : int { Rise, DeepLift, DeepLiftShap, IntegratedGradients, GradientXInput, SmoothGrad };
inline constexpr int kAttributionMethodCount = 6;
/// "rise", "deeplift", "deeplift-shap", "ig", "gxi", "smoothgrad" (the CLI's names).
const char* attributionMethodKey(AttributionMethod m) noexcept;
/// "RISE", "DeepLIFT", "DeepLIFT-SHAP", "Integrated Gradients", "Gradient×Input", "SmoothGrad".
QString attributionMethodTitle(AttributionMethod m);

/// The choices of the tab's bar that the methods read.
struct AttributionSettings {
  xai::RiseOptions rise;      ///< masks, cells, p (seed 0, batch 64)
  bool blurBaseline = false;  ///< DeepLIFT and IG reference: the blurred input, else zeros
  double blurSigma = 5;
  std::int64_t igSteps = 50;
  std::int64_t smoothSamples = 50;
};

/// What the curves use: the defaults of xai::faithfulness (100 steps, zeros deleted, blur
/// inserted, probabilities).
xai::CurveOptions attributionCurveOptions();

struct AttributionRequest {
  std::shared_ptr<const engine::Model> model;
  Array x;           ///< a batch of one
  Array references;  ///< DeepLIFT-SHAP's baselines [M, ...] (the other samples)
  AttributionMethod method = AttributionMethod::Rise;
  std::int64_t cls = 0;  ///< the class explained
  AttributionSettings settings;
  /// Set from the GUI thread: RISE stops after its current batch and keeps the map so far.
  std::shared_ptr<std::atomic<bool>> stop;
  /// RISE's map so far and the masks used, called on the worker after each batch, at most once
  /// per `partialInterval` ms (the first and the last always).
  std::function<void(Array map, std::int64_t masks)> partial;
  int partialInterval = 100;
};

struct AttributionResult {
  AttributionMethod method = AttributionMethod::Rise;
  xai::Attribution attribution;
  xai::Faithfulness curves;  ///< of attribution.map, one sample
  std::int64_t masks = 0;    ///< RISE: masks used (fewer than asked when stopped)
};

/// The method's map for the request's class, then its deletion and insertion curves.
Job::Work attributionWork(AttributionRequest request,
                          std::function<void(std::shared_ptr<const AttributionResult>)> deliver);

}  // namespace paramscope::ui
