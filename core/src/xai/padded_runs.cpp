#include "xai/padded_runs.h"

#include <algorithm>
#include <cstring>

namespace paramscope::xai {

namespace {

std::size_t row_bytes(const Array& a) {
  return a.rank() == 0 || a.dim(0) == 0 ? 0 : a.byte_size() / static_cast<std::size_t>(a.dim(0));
}

}  // namespace

Array padded_rows(const Array& xs, std::int64_t first, std::int64_t n, std::int64_t fixed) {
  std::vector<std::int64_t> shape = xs.shape();
  shape[0] = fixed;
  Array out(xs.type(), shape);
  const std::size_t rb = row_bytes(xs);
  std::memcpy(out.bytes(), xs.bytes() + static_cast<std::size_t>(first) * rb, static_cast<std::size_t>(n) * rb);
  return out;
}

std::int64_t declared_batch(const engine::Model& model, const ResolvedTarget& t) {
  for (const auto& in : model.inputs())
    if (in.name == t.input && in.has_shape && !in.shape.empty() && in.shape[0] > 0) return in.shape[0];
  return 0;
}

Array run_scores_padded(const engine::Model& model, const ResolvedTarget& t, const Array& xs, std::int64_t fixed,
                        const JobControl& control) {
  const std::int64_t rows = xs.dim(0);
  if (fixed <= 0 || rows == fixed) return run_scores(model, t, xs, control);
  Array result;
  for (std::int64_t first = 0; first < rows; first += fixed) {
    const std::int64_t n = std::min(fixed, rows - first);
    const Array out = run_scores(model, t, padded_rows(xs, first, n, fixed), control);
    classes_of(out, fixed, t);
    if (first == 0) {
      std::vector<std::int64_t> shape = out.shape();
      shape[0] = rows;
      result = Array(out.type(), shape);
    }
    const std::size_t rb = row_bytes(out);
    std::memcpy(result.bytes() + static_cast<std::size_t>(first) * rb, out.bytes(), static_cast<std::size_t>(n) * rb);
  }
  return result;
}

Array input_gradient_padded(const engine::Model& model, const ResolvedTarget& t, const Array& xs,
                            const std::vector<std::int64_t>& classes, std::int64_t fixed, const JobControl& control) {
  const std::int64_t rows = xs.dim(0);
  if (fixed <= 0 || rows == fixed) return input_gradient(model, t, xs, classes, nullptr, control);
  Array result(DType::F32, xs.shape());
  const std::size_t rb = row_bytes(result);
  for (std::int64_t first = 0; first < rows; first += fixed) {
    const std::int64_t n = std::min(fixed, rows - first);
    std::vector<std::int64_t> cls(static_cast<std::size_t>(fixed), classes[0]);
    for (std::int64_t r = 0; r < n; ++r)
      cls[static_cast<std::size_t>(r)] = classes[static_cast<std::size_t>(first + r) % classes.size()];
    const Array g = input_gradient(model, t, padded_rows(xs, first, n, fixed), cls, nullptr, control);
    std::memcpy(result.bytes() + static_cast<std::size_t>(first) * rb, g.bytes(), static_cast<std::size_t>(n) * rb);
  }
  return result;
}

}  // namespace paramscope::xai
