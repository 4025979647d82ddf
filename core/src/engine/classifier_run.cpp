#include "engine/classifier_run.h"

#include <algorithm>

#include "paramscope/error.h"
#include "util/printable.h"

namespace paramscope::engine {

ClassifierPorts resolve_ports(const Model& model, const ClassifierOptions& options) {
  ClassifierPorts p;
  const auto& ins = model.inputs();
  if (options.input.empty()) {
    if (ins.size() != 1)
      throw usage_error(model.path().string() + ": the model has " + std::to_string(ins.size()) +
                        " inputs; name the one the samples feed");
    p.input = ins[0].name;
  } else {
    if (std::none_of(ins.begin(), ins.end(), [&](const ValueInfo& v) { return v.name == options.input; }))
      throw usage_error(model.path().string() + ": the model has no input " + in_quotes(options.input));
    if (ins.size() != 1)
      throw usage_error(model.path().string() + ": models with several inputs are not supported here");
    p.input = options.input;
  }
  const auto& outs = model.outputs();
  if (outs.empty()) throw usage_error(model.path().string() + ": the model has no output");
  if (!options.output.empty()) {
    const auto it =
        std::find_if(outs.begin(), outs.end(), [&](const ValueInfo& v) { return v.name == options.output; });
    if (it == outs.end())
      throw usage_error(model.path().string() + ": the model has no output " + in_quotes(options.output));
    p.output = static_cast<std::size_t>(it - outs.begin());
  }
  return p;
}

void check_samples(const SampleSet& data) {
  if (data.count < 1) throw usage_error(data.source + ": no samples");
  if (!data.labels) return;
  if (data.labels->type() != DType::I64 || data.labels->rank() == 0 || data.labels->dim(0) != data.count)
    throw usage_error(data.source + ": the labels must be I64 with one row per sample (" + std::to_string(data.count) +
                      "), not " + std::string(dtype_name(data.labels->type())) + " " +
                      shape_string(data.labels->shape()));
}

Array read_batch(const SampleSet& data, std::int64_t first, std::int64_t n) {
  Array x = data.read(first, n);
  if (x.rank() == 0 || x.dim(0) != n)
    throw Error(Error::Kind::BadInput, data.source + ": samples " + std::to_string(first) + ".." +
                                           std::to_string(first + n - 1) + " read as " + shape_string(x.shape()));
  return x;
}

void for_each_batch(std::int64_t samples, std::int64_t batch, const JobControl& control,
                    const std::function<void(std::int64_t, std::int64_t, std::int64_t)>& work,
                    const std::function<void(std::int64_t)>& combine) {
  if (batch < 1) throw usage_error("the batch size must be at least 1, not " + std::to_string(batch));
  ThreadPool& pool = ThreadPool::global();
  const std::int64_t batches = (samples + batch - 1) / batch;
  const std::int64_t group = std::max(1, pool.threads());
  ProgressTracker progress(control, static_cast<std::uint64_t>(samples));
  for (std::int64_t g0 = 0; g0 < batches; g0 += group) {
    progress.advance(0);
    const std::int64_t n = std::min(group, batches - g0);
    pool.parallel_for(static_cast<std::size_t>(n), 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) {
        const std::int64_t index = g0 + static_cast<std::int64_t>(i), first = index * batch;
        work(index, first, std::min(batch, samples - first));
      }
    });
    for (std::int64_t i = 0; i < n; ++i) {
      combine(g0 + i);
      const std::int64_t first = (g0 + i) * batch;
      progress.advance(static_cast<std::uint64_t>(std::min(batch, samples - first)));
    }
  }
  progress.finish();
}

}  // namespace paramscope::engine
