#include "engine/activation_norms.h"

#include <cmath>
#include <set>

namespace paramscope::engine {
namespace {

std::int64_t attr_int(const Node& n, const char* name, std::int64_t fallback) {
  const auto it = n.attributes.find(name);
  return it == n.attributes.end() || it->second.kind != Attribute::Kind::Int ? fallback : it->second.i;
}

}  // namespace

std::vector<ActivationSite> activation_sites(const Graph& g, const std::function<bool(const std::string&)>& select) {
  std::vector<ActivationSite> sites;
  std::set<std::string> seen;
  for (const Node& n : g.nodes) {
    if (n.inputs.size() < 2 || n.outputs.empty()) continue;
    const auto w = g.initializers.find(n.inputs[1]);
    if (w == g.initializers.end() || w->second.type() != DType::F32 || n.inputs[0].empty()) continue;
    if (select && !select(w->first)) continue;
    ActivationSite s;
    s.node_output = n.outputs[0];
    s.weight = w->first;
    s.data = n.inputs[0];
    s.weight_shape = w->second.shape();
    const std::size_t rank = s.weight_shape.size();
    if (n.op_type == "Gemm" && rank == 2) {
      s.layout = attr_int(n, "transB", 0) ? ActivationSite::Layout::OutIn : ActivationSite::Layout::InOut;
      s.data_transposed = attr_int(n, "transA", 0) != 0;
    } else if (n.op_type == "MatMul" && rank == 2) {
      s.layout = ActivationSite::Layout::InOut;
    } else if (n.op_type == "Conv" && rank >= 3) {
      s.groups = attr_int(n, "group", 1);
      s.layout = s.groups == 1 ? ActivationSite::Layout::OutIn : ActivationSite::Layout::GroupedConv;
      s.channels_first = true;
    } else if (n.op_type == "ConvTranspose" && rank >= 3) {
      s.layout = ActivationSite::Layout::InOut;
      s.channels_first = true;
    } else {
      continue;
    }
    if (s.groups < 1 || !seen.insert(s.weight).second) continue;
    sites.push_back(std::move(s));
  }
  return sites;
}

namespace {

// Input features of a site: what the weight's input axis counts.
std::int64_t features(const ActivationSite& s) {
  switch (s.layout) {
    case ActivationSite::Layout::OutIn:
      return s.weight_shape[1];
    case ActivationSite::Layout::InOut:
      return s.weight_shape[0];
    case ActivationSite::Layout::GroupedConv:
      return s.weight_shape[1] * s.groups;
  }
  return 0;
}

}  // namespace

ActivationSums::ActivationSums(const std::vector<ActivationSite>* sites) : sites_(sites) {
  for (const auto& s : *sites_) sums_.emplace_back(static_cast<std::size_t>(features(s)), 0.0);
}

void ActivationSums::add(std::size_t i, const Array& data) {
  const ActivationSite& s = (*sites_)[i];
  if (data.type() != DType::F32 || data.rank() < (s.channels_first ? 2u : 1u)) return;
  auto& acc = sums_[i];
  const auto k = static_cast<std::int64_t>(acc.size());
  const float* x = data.data<float>();
  if (s.channels_first) {  // [N, C, spatial...]
    if (data.dim(1) != k) return;
    const std::int64_t plane = data.dim(0) == 0 ? 0 : data.size() / (data.dim(0) * k);
    for (std::int64_t n = 0; n < data.dim(0); ++n)
      for (std::int64_t c = 0; c < k; ++c) {
        const float* p = x + (n * k + c) * plane;
        double sum = 0;
        for (std::int64_t j = 0; j < plane; ++j) sum += static_cast<double>(p[j]) * p[j];
        acc[static_cast<std::size_t>(c)] += sum;
      }
  } else if (s.data_transposed) {  // Gemm transA: [K, M]
    if (data.rank() != 2 || data.dim(0) != k) return;
    const std::int64_t m = data.dim(1);
    for (std::int64_t c = 0; c < k; ++c) {
      double sum = 0;
      for (std::int64_t j = 0; j < m; ++j) sum += static_cast<double>(x[c * m + j]) * x[c * m + j];
      acc[static_cast<std::size_t>(c)] += sum;
    }
  } else {  // [..., K]
    if (data.shape().back() != k) return;
    for (std::int64_t r = 0; r < data.size() / std::max<std::int64_t>(k, 1); ++r)
      for (std::int64_t c = 0; c < k; ++c) acc[static_cast<std::size_t>(c)] += static_cast<double>(x[r * k + c]) * x[r * k + c];
  }
}

void ActivationSums::merge(const ActivationSums& other) {
  for (std::size_t i = 0; i < sums_.size(); ++i)
    for (std::size_t c = 0; c < sums_[i].size(); ++c) sums_[i][c] += other.sums_[i][c];
}

std::map<std::string, Array> ActivationSums::norms() const {
  std::map<std::string, Array> out;
  for (std::size_t i = 0; i < sums_.size(); ++i) {
    const ActivationSite& s = (*sites_)[i];
    const auto& acc = sums_[i];
    const auto k = static_cast<std::int64_t>(acc.size());
    Array a;
    switch (s.layout) {
      case ActivationSite::Layout::OutIn:
        a = Array(DType::F32, {k});
        break;
      case ActivationSite::Layout::InOut:
        a = Array(DType::F32, {k, 1});
        break;
      case ActivationSite::Layout::GroupedConv: {
        const std::int64_t rows = s.weight_shape[0], per = s.weight_shape[1], out_per_group = rows / s.groups;
        a = Array(DType::F32, {rows, per});
        float* d = a.data<float>();
        for (std::int64_t o = 0; o < rows; ++o)
          for (std::int64_t j = 0; j < per; ++j)
            d[o * per + j] = static_cast<float>(std::sqrt(acc[static_cast<std::size_t>((o / out_per_group) * per + j)]));
        out.insert_or_assign(s.weight + "@act_l2", a);
        continue;
      }
    }
    float* d = a.data<float>();
    for (std::int64_t c = 0; c < k; ++c) d[c] = static_cast<float>(std::sqrt(acc[static_cast<std::size_t>(c)]));
    out.insert_or_assign(s.weight + "@act_l2", a);
  }
  return out;
}

}  // namespace paramscope::engine
