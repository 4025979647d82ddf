// Per-matrix criteria over a checkpoint.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

#include "importance/criteria/builtin_criteria.h"
#include "paramscope/error.h"
#include "paramscope/importance.h"

namespace paramscope {
namespace {

ScoreSummary summarise(std::string name, const std::vector<double>& values) {
  ScoreSummary s{std::move(name), {}, {}, 0, 0, std::nan(""), std::nan(""), 0};
  double sq = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    s.sum += v;
    sq += v * v;
    s.max = s.count ? std::max(s.max, v) : v;
    ++s.count;
  }
  if (s.count) s.mean = s.sum / static_cast<double>(s.count);
  s.l2 = std::sqrt(sq);
  return s;
}

}  // namespace

ReducedMaps matrix_scores(const Checkpoint& c, const std::vector<std::size_t>& indices, const Criterion& criterion,
                          const CriterionInputs& inputs, Reduction block_reduction, ThreadPool& pool,
                          const JobControl& control) {
  ReducedMaps out{Granularity::Tensor, block_reduction, {}, {}, {}, {}};
  std::vector<MatrixScore> scores(indices.size());
  std::uint64_t total = 0;
  for (std::size_t i : indices) total += static_cast<std::uint64_t>(c.tensors()[i].numel());
  ProgressTracker progress(control, total);
  auto one = [&](std::size_t k) {
    const Tensor& t = c.tensors()[indices[k]];
    scores[k] = criterion.matrix_score(t, inputs);
    progress.advance(static_cast<std::uint64_t>(t.numel()));
  };
  if (criteria::is_spectral(criterion)) {
    for (std::size_t k = 0; k < indices.size(); ++k) one(k);
  } else {
    pool.parallel_for(indices.size(), 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t k = b; k < e; ++k) one(k);
    });
  }
  progress.finish();

  // Block values reduce the tensors' values (one each), like element scores reduce to a tensor.
  const auto ranks = block_ranks(c);
  std::map<std::string, std::pair<std::size_t, std::vector<double>>> blocks;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const std::size_t i = indices[k];
    const Tensor& t = c.tensors()[i];
    const double v = scores[k].value;
    out.maps.push_back(
        {k, t.name(), {}, {static_cast<float>(v)}, std::move(scores[k].metrics), std::move(scores[k].spectrum)});
    out.tensors.push_back(summarise(t.name(), {v}));
    out.tensors.back().block = c.hierarchy().place(i).block;
    out.tensors.back().kind = module_kind_name(c.hierarchy().place(i).kind);
    auto& b = blocks.try_emplace(c.hierarchy().place(i).block, ranks[i], std::vector<double>{}).first->second;
    b.second.push_back(v);
  }
  std::vector<std::pair<std::size_t, std::string>> order;
  for (const auto& [name, b] : blocks) order.emplace_back(b.first, name);
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [rank, name] : order) out.blocks.push_back(summarise(name, blocks[name].second));
  return out;
}

HeadConfig HeadConfig::from_checkpoint(const Checkpoint& c) {
  HeadConfig h;
  if (!c.config_json().empty()) {
    // Hugging Face names (LLaMA, Mistral, Qwen, BERT, ViT: num_attention_heads; GPT-2: n_head),
    // at the top level or in a multimodal model's text_config.
    const auto cfg = nlohmann::json::parse(c.config_json(), nullptr, /*allow_exceptions=*/false);
    for (const auto* node : {&cfg, cfg.contains("text_config") ? &cfg["text_config"] : nullptr}) {
      if (!node || !node->is_object() || h.heads) continue;
      auto get = [&](const char* key) {
        return node->contains(key) && (*node)[key].is_number_integer() ? (*node)[key].get<int>() : 0;
      };
      h.heads = get("num_attention_heads");
      if (!h.heads) h.heads = get("n_head");
      h.kv_heads = get("num_key_value_heads");
    }
  }
  for (const auto& [k, v] : c.metadata()) {
    // GGUF: "<arch>.attention.head_count" and "<arch>.attention.head_count_kv".
    if (k.ends_with(".attention.head_count") && !h.heads) h.heads = std::atoi(v.c_str());
    if (k.ends_with(".attention.head_count_kv") && !h.kv_heads) h.kv_heads = std::atoi(v.c_str());
  }
  return h;
}

}  // namespace paramscope
