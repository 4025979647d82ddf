// Name-based recognition of blocks and module kinds. The rules follow the naming schemes of
// Hugging Face transformers (LLaMA/Mistral/Qwen, GPT-2, BERT, ViT), timm, torchvision, llama.cpp's
// GGUF and Keras; unknown names fall back to "<prefix>.<N>" blocks and shape-based kinds.
#include "paramscope/hierarchy.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace paramscope {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

bool is_number(std::string_view s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool any_of(std::string_view s, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

// Kind from the module's last two path components (lower case), the parameter name and rank.
ModuleKind kind_of(std::string_view parent, std::string_view leaf, std::string_view module, std::string_view param,
                   std::size_t rank, bool in_block, bool keras) {
  if (keras) {
    // Keras layer names are the snake_case class name with an optional _N suffix.
    if (any_of(param, {"moving_mean", "moving_variance", "gamma", "beta"}) || contains(leaf, "normalization"))
      return ModuleKind::Norm;
    if (starts(leaf, "embedding")) return ModuleKind::Embedding;
    if (contains(leaf, "conv")) return ModuleKind::Conv;
    if (starts(leaf, "dense")) return ModuleKind::Linear;
  }
  if (any_of(param, {"running_mean", "running_var", "num_batches_tracked"})) return ModuleKind::Norm;
  if (starts(param, "in_proj")) return ModuleKind::AttentionQKV;  // nn.MultiheadAttention
  const bool attn_parent = contains(parent, "attn") || contains(parent, "attention");
  const bool mlp_parent = contains(parent, "mlp") || contains(parent, "feed_forward") || contains(parent, "ffn") ||
                          contains(parent, "densereludense") || contains(parent, "experts");

  if (any_of(leaf, {"q_proj", "query", "wq", "attn_q", "to_q", "q_lin", "q"})) return ModuleKind::AttentionQ;
  if (any_of(leaf, {"k_proj", "key", "wk", "attn_k", "to_k", "k_lin", "k"})) return ModuleKind::AttentionK;
  if (any_of(leaf, {"v_proj", "value", "wv", "attn_v", "to_v", "v_lin", "v"})) return ModuleKind::AttentionV;
  if (any_of(leaf, {"c_attn", "qkv", "query_key_value", "wqkv", "qkv_proj", "attn_qkv", "w_pack"}))
    return ModuleKind::AttentionQKV;
  if (any_of(leaf, {"o_proj", "out_proj", "wo", "attn_output", "to_out", "out_lin", "o"}) && !mlp_parent)
    return ModuleKind::AttentionOut;
  if (attn_parent && any_of(leaf, {"c_proj", "proj", "dense"})) return ModuleKind::AttentionOut;
  if (parent == "output" && leaf == "dense" && contains(module, "attention")) return ModuleKind::AttentionOut;

  if (any_of(leaf, {"gate_proj", "ffn_gate", "wi_0", "gate_up_proj"})) return ModuleKind::MlpGate;
  const bool mlp_module = mlp_parent || contains(module, "feed_forward") || contains(module, "experts");
  if (leaf == "w1" && mlp_module) return ModuleKind::MlpGate;  // Meta LLaMA and Mixtral experts: w1 gate, w3 up, w2 down
  if (any_of(leaf, {"up_proj", "c_fc", "fc1", "ffn_up", "dense_h_to_4h", "lin1", "wi", "wi_1", "w3"}))
    return ModuleKind::MlpUp;
  if (parent == "intermediate" && leaf == "dense") return ModuleKind::MlpUp;
  if (any_of(leaf, {"down_proj", "fc2", "ffn_down", "dense_4h_to_h", "lin2", "w2"})) return ModuleKind::MlpDown;
  if (mlp_module && any_of(leaf, {"c_proj", "wo", "proj"})) return ModuleKind::MlpDown;
  if (parent == "output" && leaf == "dense" && in_block) return ModuleKind::MlpDown;  // BERT/ViT layer output

  if (contains(leaf, "norm") || starts(leaf, "ln") || starts(leaf, "bn") || contains(leaf, "layernorm") ||
      any_of(leaf, {"ln_1", "ln_2", "ln_f", "norm1", "norm2"}))
    return ModuleKind::Norm;
  if (contains(leaf, "embed") || any_of(leaf, {"wte", "wpe", "token_embd", "cls_token", "pos_embed", "position_embeddings",
                                               "mask_token", "shared"}))
    return rank == 4 ? ModuleKind::Conv : ModuleKind::Embedding;
  if (!in_block && any_of(leaf, {"lm_head", "head", "classifier", "fc", "output", "score", "logits", "predictions",
                                 "decoder", "heads"}))
    return ModuleKind::Head;
  if (!in_block && (parent == "classifier" || parent == "head" || parent == "predictions")) return ModuleKind::Head;
  if (contains(leaf, "conv") || (rank >= 3 && rank <= 5)) return ModuleKind::Conv;
  if (rank == 2) return ModuleKind::Linear;
  return ModuleKind::Other;
}

bool is_final_norm(std::string_view leaf) {
  return any_of(leaf, {"norm", "ln_f", "final_layer_norm", "final_layernorm", "output_norm", "layernorm", "fc_norm",
                       "post_layernorm", "ln_post", "norm_f", "final_norm"});
}

}  // namespace

std::string_view module_kind_name(ModuleKind kind) noexcept {
  switch (kind) {
    case ModuleKind::Embedding: return "embedding";
    case ModuleKind::AttentionQ: return "attn.q";
    case ModuleKind::AttentionK: return "attn.k";
    case ModuleKind::AttentionV: return "attn.v";
    case ModuleKind::AttentionQKV: return "attn.qkv";
    case ModuleKind::AttentionOut: return "attn.o";
    case ModuleKind::MlpUp: return "mlp.up";
    case ModuleKind::MlpGate: return "mlp.gate";
    case ModuleKind::MlpDown: return "mlp.down";
    case ModuleKind::Conv: return "conv";
    case ModuleKind::Norm: return "norm";
    case ModuleKind::Linear: return "linear";
    case ModuleKind::Head: return "head";
    case ModuleKind::Other: return "other";
  }
  return "other";
}

TensorPlace classify_tensor(std::string_view name, std::span<const std::int64_t> shape) {
  TensorPlace place;
  // Keras names use '/' ("dense_1/kernel:0"); everything else '.'.
  const bool keras = name.find('/') != std::string_view::npos && name.find('.') == std::string_view::npos;
  auto parts = split(name, keras ? '/' : '.');
  std::string param(parts.back());
  if (keras) {
    if (auto colon = param.find(':'); colon != std::string::npos) param.resize(colon);
  }
  place.param = std::string(parts.back());
  std::vector<std::string_view> module_parts(parts.begin(), parts.end() - 1);
  const char sep = keras ? '/' : '.';
  auto join = [&](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n && i < module_parts.size(); ++i) {
      if (i) s += sep;
      s += module_parts[i];
    }
    return s;
  };
  place.module = join(module_parts.size());

  // The block is everything up to the first numeric component ("model.layers.3"). Mixture-of-
  // experts indices further down ("experts.7") stay inside the block.
  std::size_t numeric = module_parts.size();
  for (std::size_t i = 0; i < module_parts.size(); ++i)
    if (is_number(module_parts[i])) {
      numeric = i;
      break;
    }
  const bool in_block = numeric < module_parts.size() && numeric > 0;
  if (in_block) {
    place.block = join(numeric + 1);
    place.block_index = std::stoi(std::string(module_parts[numeric]));
  } else {
    place.block = place.module;
  }

  std::string leaf = module_parts.empty() ? lower(parts.back()) : lower(module_parts.back());
  std::string parent = module_parts.size() >= 2 ? lower(module_parts[module_parts.size() - 2]) : std::string();
  if (module_parts.empty()) {
    // A bare parameter such as "cls_token" or "weight".
    leaf = lower(param);
  } else if (is_number(leaf) && !parent.empty()) {
    // nn.Sequential children ("features.3.weight"): the kind comes from the shape.
    leaf.clear();
  }
  place.kind = kind_of(parent, leaf, lower(place.module), lower(param), shape.size(), in_block, keras);
  return place;
}

Hierarchy::Hierarchy(std::span<const std::string> names, std::span<const Shape> shapes) {
  places_.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) places_.push_back(classify_tensor(names[i], shapes[i]));
  // A module with running statistics is a batch norm even when its name says nothing
  // ("features.1.weight" in an nn.Sequential): its weight and bias are norm parameters too.
  std::set<std::string> norms;
  for (const auto& p : places_)
    if (p.kind == ModuleKind::Norm && (starts(p.param, "running_") || starts(p.param, "moving_"))) norms.insert(p.module);
  for (auto& p : places_)
    if (norms.count(p.module)) p.kind = ModuleKind::Norm;
  // A bias says nothing about its module: it takes the kind of its weight ("features.0.bias" of a
  // conv in an nn.Sequential).
  std::map<std::string, ModuleKind> module_kind;
  for (const auto& p : places_)
    if (p.kind != ModuleKind::Other && !p.module.empty()) module_kind.try_emplace(p.module, p.kind);
  for (auto& p : places_)
    if (p.kind == ModuleKind::Other)
      if (auto it = module_kind.find(p.module); it != module_kind.end()) p.kind = it->second;

  // Group key: the stack a block belongs to ("model.layers") or the block itself.
  struct Group {
    std::size_t first = 0;
    int phase = 1;  // 0 embeddings/stem, 1 body, 2 final norm, 3 head
  };
  std::map<std::string, Group> groups;
  std::map<std::string, std::size_t> block_of;
  auto stack_of = [](const TensorPlace& p) {
    if (p.block_index < 0) return p.block;
    auto dot = p.block.find_last_of("./");
    return dot == std::string::npos ? std::string() : p.block.substr(0, dot);
  };
  for (std::size_t i = 0; i < places_.size(); ++i) {
    const auto& p = places_[i];
    const std::string stack = stack_of(p);
    auto [it, inserted] = groups.try_emplace(stack, Group{i, 1});
    if (p.block_index < 0) {
      const std::string lname = lower(p.block);
      const std::string leaf = lower(p.block.substr(p.block.find_last_of("./") + 1));
      if (p.kind == ModuleKind::Embedding || contains(lname, "embed")) it->second.phase = 0;
      else if (p.kind == ModuleKind::Head) it->second.phase = 3;
      else if (is_final_norm(leaf)) it->second.phase = std::max(it->second.phase, 2);
    }
    auto [bit, binserted] = block_of.try_emplace(p.block, blocks_.size());
    if (binserted) blocks_.push_back(Block{p.block, p.block_index, {}, 0});
    auto& b = blocks_[bit->second];
    b.tensors.push_back(i);
    b.parameters += static_cast<std::uint64_t>(numel(shapes[i]));
  }
  std::stable_sort(blocks_.begin(), blocks_.end(), [&](const Block& a, const Block& b) {
    const auto& pa = places_[a.tensors.front()];
    const auto& pb = places_[b.tensors.front()];
    const auto& ga = groups.at(stack_of(pa));
    const auto& gb = groups.at(stack_of(pb));
    return std::tuple(ga.phase, ga.first, a.index) < std::tuple(gb.phase, gb.first, b.index);
  });
}

}  // namespace paramscope
