// Wanda's activation statistics: per weight of a Gemm, MatMul, Conv or ConvTranspose, the sum of
// squares of each input feature of the activation the node multiplies it with.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "paramscope/array.h"

namespace paramscope::engine {

/// Where a weight meets its activations.
struct ActivationSite {
  enum class Layout : std::uint8_t {
    OutIn,        ///< weight [out, in, ...] (Gemm transB=1, Conv with group 1): norms [in]
    InOut,        ///< weight [in, out, ...] (Gemm transB=0, MatMul, ConvTranspose): norms [in, 1]
    GroupedConv,  ///< Conv weight [out, in/group, ...]: norms [out, in/group], each row its group's
  };
  std::string node_output;  ///< the node's first output: identifies the node to observers
  std::string weight, data;
  Layout layout = Layout::OutIn;
  bool channels_first = false;  ///< data [N, C, ...] (convolutions) rather than [..., features]
  bool data_transposed = false;  ///< Gemm's transA: data [K, M]
  std::int64_t groups = 1;
  std::vector<std::int64_t> weight_shape;
};

/// The sites of the weights `select` accepts (every one when null). A weight read by several
/// nodes keeps its first site.
std::vector<ActivationSite> activation_sites(const Graph& g, const std::function<bool(const std::string&)>& select);

/// Sums of squares per input feature for each site, in double.
class ActivationSums {
 public:
  explicit ActivationSums(const std::vector<ActivationSite>* sites);
  /// Adds the activation `data` seen at site i (F32; other types are left out).
  void add(std::size_t i, const Array& data);
  /// Adds another batch's sums (same sites).
  void merge(const ActivationSums& other);
  /// "<weight>@act_l2" arrays: square roots laid out as the site's Layout says.
  std::map<std::string, Array> norms() const;

 private:
  const std::vector<ActivationSite>* sites_;
  std::vector<std::vector<double>> sums_;
};

}  // namespace paramscope::engine
