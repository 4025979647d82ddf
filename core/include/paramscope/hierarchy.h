// Where each tensor sits in the network: block (layer) and module kind, recognised from names.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "paramscope/shape.h"

namespace paramscope {

enum class ModuleKind : std::uint8_t {
  Embedding,
  AttentionQ,
  AttentionK,
  AttentionV,
  AttentionQKV,  ///< fused projections (GPT-2 c_attn, timm qkv)
  AttentionOut,
  MlpUp,
  MlpGate,
  MlpDown,
  Conv,
  Norm,
  Linear,  ///< a dense layer that is none of the above
  Head,    ///< output projection / classifier (lm_head, fc of a ResNet)
  Other,
};

/// "attn.q", "mlp.down", "conv", ...
std::string_view module_kind_name(ModuleKind kind) noexcept;

/// Where one tensor sits.
struct TensorPlace {
  std::string block;     ///< "model.layers.3", "layer2.1", "dense_1"; "" when outside any block
  int block_index = -1;  ///< numeric index of the block within its stack, -1 if none
  std::string module;    ///< "model.layers.3.self_attn.q_proj"
  ModuleKind kind = ModuleKind::Other;
  std::string param;     ///< the last name component: "weight", "bias", "kernel:0"
};

/// Recognises Hugging Face LLaMA/Mistral/Qwen/GPT-2/BERT/ViT, timm, torchvision ResNet, GGUF
/// (llama.cpp) and Keras names; anything else falls back to "prefix.N" blocks and shape-based
/// kinds (4-D: conv, 1-D "norm"/"bn"/"ln": norm, 2-D: linear).
TensorPlace classify_tensor(std::string_view name, std::span<const std::int64_t> shape);

/// A block and the tensors in it, in model order.
struct Block {
  std::string name;                  ///< "" holds tensors outside any block
  int index = -1;
  std::vector<std::size_t> tensors;  ///< indices into Checkpoint::tensors()
  std::uint64_t parameters = 0;
};

class Hierarchy {
public:
  Hierarchy() = default;
  /// Classifies every (name, shape) pair and orders blocks: embeddings and stems first, numbered
  /// stacks in numeric order (so "layers.10" follows "layers.9"), heads and final norms last.
  Hierarchy(std::span<const std::string> names, std::span<const Shape> shapes);

  const std::vector<Block>& blocks() const noexcept { return blocks_; }
  const TensorPlace& place(std::size_t tensor) const { return places_.at(tensor); }
  std::size_t size() const noexcept { return places_.size(); }

private:
  std::vector<TensorPlace> places_;
  std::vector<Block> blocks_;
};

}  // namespace paramscope
