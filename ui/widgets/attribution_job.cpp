#include "attribution_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include <QCoreApplication>

#include "paramscope/error.h"
#include "paramscope/images.h"
#include "paramscope/npy.h"
#include "paramscope/shape.h"

namespace paramscope::ui {
namespace {
namespace fs = std::filesystem;

const engine::ValueInfo& modelInput(const engine::Model& m) {
  if (m.inputs().empty()) throw usage_error(m.path().string() + ": the model has no input to explain");
  return m.inputs().front();
}

// An image file for an [N, C, H, W] (or [N, H, W, C]) float input of fixed size.
Array readImage(const fs::path& path, const engine::ValueInfo& in) {
  if (in.type != DType::F32) throw usage_error(path.string() + ": images need an F32 model input");
  ImageOptions io;
  if (in.has_shape && in.shape.size() == 4) {
    const bool nhwc = in.shape[3] == 1 || in.shape[3] == 3;
    const bool nchw = in.shape[1] == 1 || in.shape[1] == 3;
    io.nhwc = nhwc && !nchw;
    const std::size_t c = io.nhwc ? 3 : 1, h = io.nhwc ? 1 : 2;
    io.channels = static_cast<int>(in.shape[c]);
    if (in.shape[h] > 0 && in.shape[h + 1] > 0) {
      io.height = in.shape[h];
      io.width = in.shape[h + 1];
    }
  }
  Array image = read_image(path, io);
  std::vector<std::int64_t> shape{1};
  shape.insert(shape.end(), image.shape().begin(), image.shape().end());
  return image.reshaped(std::move(shape));
}

// An NPY/NPZ array as a batch for the input: one sample without its batch axis gains one.
Array asBatch(Array x, const engine::ValueInfo& in, const std::string& source) {
  if (x.type() != in.type) {
    if (!dtype_info(x.type()).is_float || !dtype_info(in.type).is_float)
      throw usage_error(source + ": " + std::string(dtype_name(x.type())) + " samples for the model's " +
                        std::string(dtype_name(in.type)) + " input '" + in.name + "'");
    x = x.cast(in.type);
  }
  if (in.has_shape && x.rank() + 1 == in.shape.size()) {
    std::vector<std::int64_t> shape{1};
    shape.insert(shape.end(), x.shape().begin(), x.shape().end());
    x = x.reshaped(std::move(shape));
  }
  if (x.rank() < 2 || x.dim(0) < 1)
    throw usage_error(source + ": " + shape_string(x.shape()) + " is not a batch of samples for the input '" + in.name +
                      "'");
  return x;
}

Array readArray(const fs::path& path, const engine::ValueInfo& in) {
  if (path.extension() != ".npz") return asBatch(read_npy(path), in, path.string());
  const auto members = read_npz(path);
  for (const std::string& key : {in.name, std::string("x"), std::string("inputs"), std::string("input"),
                                std::string("images"), std::string("data")})
    for (const auto& [name, a] : members)
      if (name == key) return asBatch(a, in, path.string() + ":" + name);
  throw usage_error(path.string() + ": no member named '" + in.name + "', x, inputs, input, images or data");
}

xai::Target targetFor(AttributionMethod m, std::int64_t cls) {
  xai::Target t;
  t.classes = {cls};
  t.softmax = m == AttributionMethod::Rise;  // RISE explains probabilities, the others logits (as the CLI)
  return t;
}

}  // namespace

Job::Work openAttributionWork(std::string model, std::vector<std::string> inputs,
                              std::function<void(std::shared_ptr<const AttributionSamples>)> deliver) {
  return [model = std::move(model), inputs = std::move(inputs), deliver = std::move(deliver)](const JobControl&) {
    auto out = std::make_shared<AttributionSamples>();
    out->model = std::make_shared<const engine::Model>(engine::Model::load(model));
    const engine::ValueInfo& in = modelInput(*out->model);
    for (const std::string& file : inputs) {
      const fs::path path(file);
      const QString name = QString::fromStdString(path.filename().string());
      const std::string ext = path.extension().string();
      if (ext == ".npy" || ext == ".npz") {
        const Array x = readArray(path, in);
        for (std::int64_t b = 0; b < x.dim(0); ++b)
          out->samples.push_back({x.dim(0) == 1 ? name : QStringLiteral("%1 #%2").arg(name).arg(b), x.rows(b, 1)});
      } else {
        out->samples.push_back({name, readImage(path, in)});
      }
    }
    std::shared_ptr<const AttributionSamples> result = std::move(out);
    return std::function<void()>([deliver, result] { deliver(result); });
  };
}

Job::Work predictWork(std::shared_ptr<const engine::Model> model, Array x, int k,
                      std::function<void(std::vector<Prediction>)> deliver) {
  return [model = std::move(model), x = std::move(x), k, deliver = std::move(deliver)](const JobControl& control) {
    const std::vector<Array> outs = model->run({{modelInput(*model).name, x}}, control);
    if (outs.empty()) throw usage_error(model->path().string() + ": the model has no output");
    const Array scores = outs.front().cast(DType::F32);
    if (scores.rank() != 2 || scores.dim(0) != 1)
      throw usage_error("the model's first output is " + shape_string(scores.shape()) +
                        ", not class scores [1, classes]");
    const auto v = scores.values<float>();
    const double top = *std::max_element(v.begin(), v.end());
    std::vector<double> p(v.size());
    double sum = 0;
    for (std::size_t i = 0; i < v.size(); ++i) sum += p[i] = std::exp(static_cast<double>(v[i]) - top);
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
    std::vector<Prediction> best;
    for (std::size_t i = 0; i < order.size() && static_cast<int>(i) < k; ++i)
      best.push_back({static_cast<std::int64_t>(order[i]), p[order[i]] / sum});
    return std::function<void()>([deliver, best] { deliver(best); });
  };
}

const char* attributionMethodKey(AttributionMethod m) noexcept {
  switch (m) {
    case AttributionMethod::Rise:
      return "rise";
    case AttributionMethod::DeepLift:
      return "deeplift";
    case AttributionMethod::DeepLiftShap:
      return "deeplift-shap";
    case AttributionMethod::IntegratedGradients:
      return "ig";
    case AttributionMethod::GradientXInput:
      return "gxi";
    case AttributionMethod::SmoothGrad:
      return "smoothgrad";
  }
  return "";
}

QString attributionMethodTitle(AttributionMethod m) {
  switch (m) {
    case AttributionMethod::Rise:
      return QStringLiteral("RISE");
    case AttributionMethod::DeepLift:
      return QStringLiteral("DeepLIFT");
    case AttributionMethod::DeepLiftShap:
      return QStringLiteral("DeepLIFT-SHAP");
    case AttributionMethod::IntegratedGradients:
      return QStringLiteral("Integrated Gradients");
    case AttributionMethod::GradientXInput:
      return QStringLiteral("Gradient\u00d7Input");
    case AttributionMethod::SmoothGrad:
      return QStringLiteral("SmoothGrad");
  }
  return {};
}

xai::CurveOptions attributionCurveOptions() {
  return {};
}

Job::Work attributionWork(AttributionRequest request,
                          std::function<void(std::shared_ptr<const AttributionResult>)> deliver) {
  return [r = std::move(request), deliver = std::move(deliver)](const JobControl& control) {
    auto out = std::make_shared<AttributionResult>();
    out->method = r.method;
    const engine::Model& model = *r.model;
    const xai::Target target = targetFor(r.method, r.cls);
    auto baseline = [&] {
      xai::Baseline b;
      b.kind = r.settings.blurBaseline ? xai::Baseline::Kind::Blur : xai::Baseline::Kind::Zeros;
      b.sigma = r.settings.blurSigma;
      return xai::make_baseline(r.x, b);
    };
    switch (r.method) {
      case AttributionMethod::Rise: {
        using Clock = std::chrono::steady_clock;
        Clock::time_point last{};
        const std::int64_t total = r.settings.rise.masks;
        xai::RiseProgress progress = [&](const xai::Attribution& partial, std::int64_t done) {
          const bool stop = r.stop && r.stop->load();
          const Clock::time_point now = Clock::now();
          if (r.partial && (stop || done >= total || last == Clock::time_point{} ||
                            now - last >= std::chrono::milliseconds(r.partialInterval))) {
            last = now;
            r.partial(partial.map.clone(), done);
          }
          out->masks = done;
          return !stop;
        };
        out->attribution = xai::rise(model, r.x, target, r.settings.rise, progress, control);
        break;
      }
      case AttributionMethod::DeepLift:
        out->attribution = xai::deeplift(model, r.x, baseline(), target, {}, control);
        break;
      case AttributionMethod::DeepLiftShap:
        if (r.references.rank() < 2 || r.references.dim(0) < 1)
          throw usage_error(
              "DeepLIFT-SHAP takes the other samples of the inputs as its references: open more than one");
        out->attribution = xai::deeplift_shap(model, r.x, r.references, target, {}, control);
        break;
      case AttributionMethod::IntegratedGradients: {
        xai::IntegratedGradientsOptions ig;
        ig.steps = r.settings.igSteps;
        out->attribution = xai::integrated_gradients(model, r.x, baseline(), target, ig, control);
        break;
      }
      case AttributionMethod::GradientXInput:
        out->attribution = xai::gradient_x_input(model, r.x, target, control);
        break;
      case AttributionMethod::SmoothGrad: {
        xai::SmoothGradOptions s;
        s.samples = r.settings.smoothSamples;
        out->attribution = xai::smoothgrad(model, r.x, target, s, control);
        break;
      }
    }
    out->curves = xai::faithfulness(model, r.x, out->attribution.map, target, attributionCurveOptions(), control);
    std::shared_ptr<const AttributionResult> result = std::move(out);
    return std::function<void()>([deliver, result] { deliver(result); });
  };
}

}  // namespace paramscope::ui
