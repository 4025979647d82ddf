#include "io/keras/keras_names.h"

#include <algorithm>
#include <cctype>

namespace paramscope::io::keras {
namespace {

struct Layout {
  std::string_view cls;
  std::vector<std::string_view> vars;
};

// From the build() methods of keras/src/layers (Keras 3). Optional trailing variables (bias with
// use_bias=False) give a second, shorter layout. DepthwiseConv's kernel is called "kernel" in
// Keras 3 ("depthwise_kernel" was Keras 2). MultiHeadAttention saves its projections as the
// EinsumDense attributes _query_dense, ...; recurrent layers save their cell under "cell".
const std::vector<Layout> kLayouts = {
    {"dense", {"kernel", "bias"}},
    {"dense", {"kernel"}},
    {"einsum_dense", {"kernel", "bias"}},
    {"einsum_dense", {"kernel"}},
    {"_query_dense", {"kernel", "bias"}},
    {"_key_dense", {"kernel", "bias"}},
    {"_value_dense", {"kernel", "bias"}},
    {"_output_dense", {"kernel", "bias"}},
    {"_query_dense", {"kernel"}},
    {"_key_dense", {"kernel"}},
    {"_value_dense", {"kernel"}},
    {"_output_dense", {"kernel"}},
    {"conv1d", {"kernel", "bias"}},
    {"conv2d", {"kernel", "bias"}},
    {"conv3d", {"kernel", "bias"}},
    {"conv1d_transpose", {"kernel", "bias"}},
    {"conv2d_transpose", {"kernel", "bias"}},
    {"conv3d_transpose", {"kernel", "bias"}},
    {"conv1d", {"kernel"}},
    {"conv2d", {"kernel"}},
    {"conv3d", {"kernel"}},
    {"conv1d_transpose", {"kernel"}},
    {"conv2d_transpose", {"kernel"}},
    {"conv3d_transpose", {"kernel"}},
    {"depthwise_conv1d", {"kernel", "bias"}},
    {"depthwise_conv2d", {"kernel", "bias"}},
    {"depthwise_conv1d", {"kernel"}},
    {"depthwise_conv2d", {"kernel"}},
    {"separable_conv1d", {"depthwise_kernel", "pointwise_kernel", "bias"}},
    {"separable_conv2d", {"depthwise_kernel", "pointwise_kernel", "bias"}},
    {"separable_conv1d", {"depthwise_kernel", "pointwise_kernel"}},
    {"separable_conv2d", {"depthwise_kernel", "pointwise_kernel"}},
    {"batch_normalization", {"gamma", "beta", "moving_mean", "moving_variance"}},
    {"layer_normalization", {"gamma", "beta"}},
    {"group_normalization", {"gamma", "beta"}},
    {"rms_normalization", {"scale"}},
    {"embedding", {"embeddings"}},
    {"p_re_lu", {"alpha"}},
    {"cell", {"kernel", "recurrent_kernel", "bias"}},
    {"cell", {"kernel", "recurrent_kernel"}},
    {"simple_rnn_cell", {"kernel", "recurrent_kernel", "bias"}},
    {"lstm_cell", {"kernel", "recurrent_kernel", "bias"}},
    {"gru_cell", {"kernel", "recurrent_kernel", "bias"}},
};

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

std::string_view class_of(std::string_view group_name) {
  const auto us = group_name.rfind('_');
  if (us != std::string_view::npos && us > 0 && all_digits(group_name.substr(us + 1))) return group_name.substr(0, us);
  return group_name;
}

std::vector<std::string_view> variable_names(std::string_view group_name, std::size_t count) {
  for (std::string_view key : {group_name, class_of(group_name)})
    for (const auto& l : kLayouts)
      if (l.cls == key && l.vars.size() == count) return l.vars;
  return {};
}

TensorRole role_of(std::string_view name) {
  // Last component without the TensorFlow ":0" suffix.
  std::string_view leaf = name.substr(name.rfind('/') == std::string_view::npos ? 0 : name.rfind('/') + 1);
  leaf = leaf.substr(0, leaf.find(':'));
  if (leaf == "moving_mean" || leaf == "moving_variance") return TensorRole::Buffer;
  for (std::size_t pos = 0; pos <= name.size();) {
    const auto end = std::min(name.find('/', pos), name.size());
    if (class_of(name.substr(pos, end - pos)) == "seed_generator") return TensorRole::Buffer;
    pos = end + 1;
  }
  return TensorRole::Parameter;
}

}  // namespace paramscope::io::keras
