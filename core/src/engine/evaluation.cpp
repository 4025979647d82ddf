#include <cmath>

#include "engine/classification_loss.h"
#include "engine/classifier_run.h"
#include "paramscope/calibration.h"
#include "paramscope/error.h"

namespace paramscope::engine {

EvalResult evaluate(const Model& model, const SampleSet& data, const ClassifierOptions& options,
                    const JobControl& control) {
  const ClassifierPorts ports = resolve_ports(model, options);
  if (!data.labels) throw usage_error(data.source + ": no labels to evaluate against");
  check_samples(data);
  const JobControl cancel_only{control.cancel, {}};
  std::vector<LossTerms> group(static_cast<std::size_t>(std::max(1, ThreadPool::global().threads())));
  EvalResult r;
  double loss = 0;
  const auto work = [&](std::int64_t index, std::int64_t first, std::int64_t n) {
    const auto outs = model.run({{ports.input, read_batch(data, first, n)}}, cancel_only);
    group[static_cast<std::size_t>(index) % group.size()] =
        cross_entropy(outs[ports.output], options.kind, data.labels->rows(first, n), first, false);
  };
  const auto combine = [&](std::int64_t index) {
    LossTerms& t = group[static_cast<std::size_t>(index) % group.size()];
    r.positions += t.positions;
    r.correct += t.correct;
    r.top5 += t.top5;
    loss += t.loss_sum;
    if (t.classes <= 100) {
      const auto c = static_cast<std::size_t>(t.classes);
      if (r.confusion.empty()) r.confusion.assign(c, std::vector<std::int64_t>(c, 0));
      for (std::size_t i = 0; i < t.labels.size(); ++i)
        if (t.labels[i] >= 0)
          ++r.confusion[static_cast<std::size_t>(t.labels[i])][static_cast<std::size_t>(t.predicted[i])];
    }
    t = LossTerms{};
  };
  for_each_batch(data.count, options.batch, control, work, combine);
  r.samples = data.count;
  r.mean_loss = r.positions > 0 ? loss / static_cast<double>(r.positions) : NAN;
  return r;
}

}  // namespace paramscope::engine
