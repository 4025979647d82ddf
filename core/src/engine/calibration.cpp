#include <cmath>
#include <optional>
#include <set>
#include <unordered_map>

#include "engine/activation_norms.h"
#include "engine/classification_loss.h"
#include "engine/classifier_run.h"
#include "engine/graph.h"
#include "paramscope/calibration.h"
#include "paramscope/error.h"
#include "paramscope/writers.h"
#include "util/printable.h"

namespace paramscope::engine {
namespace {

// Weights whose gradients are gathered by default: the parameters of the layers pruning and
// merging act on (Gemm, MatMul, Conv, ConvTranspose weights and biases, normalisation affines).
std::vector<std::string> gradient_targets(const Graph& g, const std::function<bool(const std::string&)>& select) {
  static const std::map<std::string, std::set<std::size_t>> slots{{"Gemm", {0, 1, 2}},
                                                                  {"MatMul", {0, 1}},
                                                                  {"Conv", {1, 2}},
                                                                  {"ConvTranspose", {1, 2}},
                                                                  {"BatchNormalization", {1, 2}},
                                                                  {"LayerNormalization", {1, 2}}};
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const Node& n : g.nodes) {
    const auto s = slots.find(n.op_type);
    if (s == slots.end()) continue;
    for (const auto i : s->second) {
      if (i >= n.inputs.size()) continue;
      const auto w = g.initializers.find(n.inputs[i]);
      if (w == g.initializers.end() || w->second.type() != DType::F32 || w->second.size() == 0) continue;
      if (select && !select(w->first)) continue;
      if (seen.insert(w->first).second) out.push_back(w->first);
    }
  }
  return out;
}

struct BatchResult {
  std::optional<ActivationSums> acts;
  std::map<std::string, Array> grads;
  double loss = 0;
  std::int64_t positions = 0;
};

}  // namespace

CalibrationResult calibrate(const Model& model, const SampleSet& data, const CalibrationOptions& options,
                            const JobControl& control) {
  const Graph& g = graph_of(model);
  const ClassifierPorts ports = resolve_ports(model, options);
  check_samples(data);
  const auto sites = options.activations ? activation_sites(g, options.select) : std::vector<ActivationSite>{};
  const auto targets = options.gradients ? gradient_targets(g, options.select) : std::vector<std::string>{};
  if (sites.empty() && targets.empty())
    throw usage_error(model.path().string() + ": no weight to gather statistics for" +
                      (options.select ? " matches the targets" : ""));
  std::unordered_map<std::string, std::size_t> site_of;
  for (std::size_t i = 0; i < sites.size(); ++i) site_of.emplace(sites[i].node_output, i);
  const std::string& output = model.outputs()[ports.output].name;
  const JobControl cancel_only{control.cancel, {}};

  std::vector<BatchResult> group(static_cast<std::size_t>(std::max(1, ThreadPool::global().threads())));
  CalibrationResult result;
  ActivationSums acts(&sites);
  std::map<std::string, std::vector<double>> sum, sum_sq;
  double loss = 0;
  std::int64_t positions = 0;

  const auto work = [&](std::int64_t index, std::int64_t first, std::int64_t n) {
    BatchResult& r = group[static_cast<std::size_t>(index) % group.size()];
    r = BatchResult{};
    r.acts.emplace(&sites);
    const std::map<std::string, Array> feeds{{ports.input, read_batch(data, first, n)}};
    const auto labels = data.labels ? std::optional<Array>(data.labels->rows(first, n)) : std::nullopt;
    if (!targets.empty()) {
      const Pass pass = model.forward(feeds, cancel_only);
      for (std::size_t i = 0; i < sites.size(); ++i) r.acts->add(i, pass.value(sites[i].data));
      LossTerms t = cross_entropy(pass.outputs()[ports.output], options.kind, labels, first, true);
      r.loss = t.loss_sum;
      r.positions = t.positions;
      if (t.positions > 0) r.grads = pass.backward({{output, *t.seed}}, targets, {}, cancel_only);
    } else {
      const ForwardObserver observe = [&](const NodeInfo& node, std::span<const Array* const> in,
                                          std::span<const Array>) {
        const auto it = node.outputs.empty() ? site_of.end() : site_of.find(node.outputs[0]);
        if (it != site_of.end() && in[0]) r.acts->add(it->second, *in[0]);
      };
      const auto outs = model.run(feeds, observe, cancel_only);
      const LossTerms t = cross_entropy(outs[ports.output], options.kind, labels, first, false);
      r.loss = t.loss_sum;
      r.positions = t.positions;
    }
  };
  const auto combine = [&](std::int64_t index) {
    BatchResult& r = group[static_cast<std::size_t>(index) % group.size()];
    acts.merge(*r.acts);
    loss += r.loss;
    positions += r.positions;
    ++result.batches;
    for (const auto& [name, gr] : r.grads) {
      auto& s = sum[name];
      auto& q = sum_sq[name];
      s.resize(static_cast<std::size_t>(gr.size()), 0.0);
      q.resize(static_cast<std::size_t>(gr.size()), 0.0);
      const float* v = gr.data<float>();
      for (std::size_t i = 0; i < s.size(); ++i) {
        s[i] += v[i];
        q[i] += static_cast<double>(v[i]) * v[i];
      }
    }
    r = BatchResult{};
  };
  for_each_batch(data.count, options.batch, control, work, combine);

  result.samples = data.count;
  result.mean_loss = positions > 0 ? loss / static_cast<double>(positions) : NAN;
  result.own_predictions = !data.labels;
  result.stats = acts.norms();
  for (const auto& name : targets) {
    const Array& w = g.initializers.at(name);
    Array gs(DType::F32, w.shape()), gq(DType::F32, w.shape());
    const auto s = sum.find(name);
    if (s != sum.end()) {  // batches whose labels were all ignored leave none
      float* a = gs.data<float>();
      float* b = gq.data<float>();
      const auto& q = sum_sq.at(name);
      for (std::size_t i = 0; i < s->second.size(); ++i) {
        a[i] = static_cast<float>(s->second[i]);
        b[i] = static_cast<float>(q[i]);
      }
    }
    result.stats.insert_or_assign(name + "@grad", gs);
    result.stats.insert_or_assign(name + "@grad_sq", gq);
  }
  return result;
}

void write_statistics(const std::filesystem::path& path, const CalibrationResult& result, const Model& model,
                      const CalibrationOptions& options) {
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, a] : result.stats) {
    tensors.push_back(
        TensorToWrite::from_bytes(name, DType::F32, a.shape(), std::span<const std::byte>(a.bytes(), a.byte_size())));
  }
  const char* kind = options.kind == OutputKind::Logits          ? "logits"
                     : options.kind == OutputKind::Probabilities ? "probabilities"
                                                                 : "log-probabilities";
  write_safetensors(path, tensors,
                    {{"samples", std::to_string(result.batches)},
                     {"calibration_samples", std::to_string(result.samples)},
                     {"batch", std::to_string(options.batch)},
                     {"loss", std::string("mean cross-entropy of ") + kind + " against " +
                                  (result.own_predictions ? "the model's own predictions" : "the given labels")},
                     {"model", model.path().string()}});
}

}  // namespace paramscope::engine
