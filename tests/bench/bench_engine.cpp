// paramscope-bench-engine: time per batch of the execution engine, for docs/benchmarks.md.
//   paramscope-bench-engine MODEL.onnx --batch B --iters N [--warmup W] [--backward] [--profile]
// Runs the model's single input at batch size B (its first, symbolic dimension) on a fixed
// pseudo-random input, W untimed then N timed times, and prints JSON: median and min ms of
// Model::run, and with --backward of Model::forward + Pass::backward of L = sum(seed * output)
// with respect to the input and every float initializer (what torch's loss.backward() computes
// for the parameters). The input and seed come from a hash of the element index that
// tests/bench/torch_engine.py reproduces, so the checksums printed beside the times (sums of the
// output and of the gradients) can be compared with torch's.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "hashed_input.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"

namespace {

using paramscope::Array;
using paramscope::DType;
using paramscope::bench::hashed;
namespace engine = paramscope::engine;

struct Args {
  std::string model;
  std::int64_t batch = 1;
  int iters = 10, warmup = 2;
  bool backward = false, profile = false;
};

// The float initializers, as the file lists them: the parameters. Model::weights() also holds the
// outputs of folded Constant nodes (scalars of the graph's arithmetic), which torch does not
// differentiate.
std::vector<std::string> float_initializers(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto m;
  if (!in || !m.ParseFromIstream(&in)) throw paramscope::usage_error(path + ": cannot parse the ONNX model");
  std::vector<std::string> names;
  for (const auto& t : m.graph().initializer())
    if (t.data_type() == onnx::TensorProto::FLOAT) names.push_back(t.name());
  return names;
}

struct Times {
  double median = 0, min = 0;
};

template <class F>
Times time_it(const Args& a, F&& f) {
  for (int i = 0; i < a.warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < a.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

double sum(const Array& a, bool absolute) {
  double s = 0;
  for (float v : a.values<float>()) s += absolute ? std::fabs(v) : v;
  return s;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    const bool has_value = i + 1 < argc;
    if (s == "--batch" && has_value) {
      a.batch = std::atoll(argv[++i]);
    } else if (s == "--iters" && has_value) {
      a.iters = std::atoi(argv[++i]);
    } else if (s == "--warmup" && has_value) {
      a.warmup = std::atoi(argv[++i]);
    } else if (s == "--backward") {
      a.backward = true;
    } else if (s == "--profile") {
      a.profile = true;
    } else if (a.model.empty() && s.rfind("--", 0) != 0) {
      a.model = s;
    } else {
      throw paramscope::usage_error("unknown argument " + s);
    }
  }
  if (a.model.empty() || a.batch < 1 || a.iters < 1 || a.warmup < 0)
    throw paramscope::usage_error(
        "usage: paramscope-bench-engine MODEL.onnx --batch B --iters N [--warmup W] [--backward] [--profile]");
  return a;
}

// The profile's bucket for a node: its operator, convolutions by kind.
std::string bucket(const engine::NodeInfo& node, std::span<const Array* const> inputs) {
  std::string op(node.op_type);
  if (op != "Conv" || inputs.size() < 2 || !inputs[1]) return op;
  const Array& w = *inputs[1];
  const bool one = std::all_of(w.shape().begin() + 2, w.shape().end(), [](std::int64_t d) { return d == 1; });
  if (one) return "Conv 1x1";
  const bool depthwise = w.dim(1) == 1 && inputs[0] && inputs[0]->rank() > 1 && inputs[0]->dim(1) > 1;
  return depthwise ? "Conv depthwise" : "Conv other";
}

// Forward time per bucket, averaged over the timed runs.
std::map<std::string, double> profile(const Args& a, const engine::Model& model,
                                      const std::map<std::string, Array>& feeds) {
  std::map<std::string, double> ms;
  std::chrono::steady_clock::time_point last;
  const engine::ForwardObserver observe = [&](const engine::NodeInfo& node, std::span<const Array* const> inputs,
                                              std::span<const Array>) {
    const auto now = std::chrono::steady_clock::now();
    ms[bucket(node, inputs)] += std::chrono::duration<double, std::milli>(now - last).count();
    last = std::chrono::steady_clock::now();  // the observer's own time is not counted
  };
  for (int i = 0; i < a.iters; ++i) {
    last = std::chrono::steady_clock::now();
    (void)model.run(feeds, observe);
  }
  for (auto& [op, t] : ms) t /= a.iters;
  return ms;
}

int run(const Args& a) {
  const engine::Model model = engine::Model::load(a.model);
  if (model.inputs().size() != 1 || model.outputs().size() != 1)
    throw paramscope::usage_error(a.model + ": the benchmark needs a model with one input and one output");
  const engine::ValueInfo& in = model.inputs()[0];
  if (in.type != DType::F32 || !in.has_shape || in.shape.empty())
    throw paramscope::usage_error(a.model + ": the input must be float32 with a shape");
  std::vector<std::int64_t> shape = in.shape;
  shape[0] = a.batch;
  if (std::any_of(shape.begin(), shape.end(), [](std::int64_t d) { return d < 1; }))
    throw paramscope::usage_error(a.model + ": only the first input dimension may be symbolic");
  const std::map<std::string, Array> feeds = {{in.name, hashed(shape, 0)}};

  std::vector<Array> out;
  const Times forward = time_it(a, [&] { out = model.run(feeds); });
  std::printf("{\"batch\": %lld, \"iters\": %d, \"forward_ms\": {\"median\": %.4f, \"min\": %.4f}",
              static_cast<long long>(a.batch), a.iters, forward.median, forward.min);
  std::printf(", \"output_sum\": %.8g, \"output_abs_sum\": %.8g", sum(out[0], false), sum(out[0], true));

  if (a.profile) {
    std::printf(", \"forward_profile_ms\": {");
    const char* sep = "";
    for (const auto& [op, t] : profile(a, model, feeds)) {
      std::printf("%s\"%s\": %.4f", sep, op.c_str(), t);
      sep = ", ";
    }
    std::printf("}");
  }
  if (a.backward) {
    const std::string& out_name = model.outputs()[0].name;
    const std::map<std::string, Array> seeds = {{out_name, hashed(out[0].shape(), 1000003)}};
    std::vector<std::string> wrt = {in.name};
    const std::vector<std::string> params = float_initializers(a.model);
    wrt.insert(wrt.end(), params.begin(), params.end());
    std::map<std::string, Array> grads;
    const Times both = time_it(a, [&] {
      const engine::Pass pass = model.forward(feeds);
      grads = pass.backward(seeds, wrt);
    });
    double param_abs = 0;
    for (const std::string& p : params) param_abs += sum(grads.at(p), true);
    std::printf(", \"forward_backward_ms\": {\"median\": %.4f, \"min\": %.4f}", both.median, both.min);
    std::printf(", \"parameters\": %zu, \"input_grad_abs_sum\": %.8g, \"param_grad_abs_sum\": %.8g", params.size(),
                sum(grads.at(in.name), true), param_abs);
  }
  std::printf("}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {  // paramscope::Error, and the standard library's
    std::fprintf(stderr, "paramscope-bench-engine: %s\n", e.what());
    return 1;
  }
}
