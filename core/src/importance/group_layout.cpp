#include "importance/group_layout.h"

#include <numeric>

namespace paramscope {
namespace {

// GPT-2 and its relatives store projections as Conv1D with weight [in, out]: heads run along
// columns of c_attn and along rows of c_proj, the transpose of nn.Linear.
bool is_conv1d(const TensorPlace& p) {
  const auto leaf = p.module.substr(p.module.find_last_of('.') + 1);
  return leaf == "c_attn" || leaf == "c_proj" || leaf == "c_fc";
}

}  // namespace

std::optional<GroupLayout> group_layout(const ScoredTensor& t, Granularity g, const HeadConfig& hc, std::string& why) {
  GroupLayout l;
  const Shape& s = t.shape;
  const std::size_t rank = s.size();
  if (rank >= 1 && s[0] > 0) l.row_len = t.numel / s[0];
  if (rank >= 2) {
    l.columns = s[1];
    l.inner = 1;
    for (std::size_t d = 2; d < rank; ++d) l.inner *= s[d];
  }
  switch (g) {
    case Granularity::Element:
    case Granularity::Tensor:
    case Granularity::Block:
      l.map_shape = {};
      return l;
    case Granularity::Row:
      if (rank == 0) {
        why = "a scalar has no rows";
        return std::nullopt;
      }
      l.axis = GroupLayout::Axis::Rows;
      l.groups = s[0];
      l.map_shape = {s[0]};
      return l;
    case Granularity::Column:
      if (rank < 2) {
        why = "a " + std::to_string(rank) + "-D tensor has no input dimension";
        return std::nullopt;
      }
      l.axis = GroupLayout::Axis::Columns;
      l.groups = s[1];
      l.map_shape = {s[1]};
      return l;
    case Granularity::Head:
      break;
  }
  // Heads.
  if (hc.heads <= 0) {
    why = "the head count is unknown (no config.json or GGUF attention metadata; give --heads)";
    return std::nullopt;
  }
  if (rank != 2) {
    why = "not a 2-D attention projection";
    return std::nullopt;
  }
  const int kv = hc.kv_heads > 0 ? hc.kv_heads : hc.heads;
  const bool conv1d = is_conv1d(t.place);
  std::int64_t n_groups = 0;
  bool along_rows = true;
  switch (t.place.kind) {
    case ModuleKind::AttentionQ:
      n_groups = hc.heads;
      break;
    case ModuleKind::AttentionK:
    case ModuleKind::AttentionV:
      n_groups = kv;
      break;
    case ModuleKind::AttentionQKV:
      n_groups = hc.heads + 2 * kv;
      along_rows = !conv1d;
      break;
    case ModuleKind::AttentionOut:
      n_groups = hc.heads;
      along_rows = conv1d;
      break;
    default:
      why = "not an attention projection";
      return std::nullopt;
  }
  const std::int64_t extent = along_rows ? s[0] : s[1];
  if (n_groups <= 0 || extent % n_groups != 0) {
    why = std::to_string(extent) + (along_rows ? " rows" : " columns") + " do not split into " +
          std::to_string(n_groups) + " heads";
    return std::nullopt;
  }
  l.axis = along_rows ? GroupLayout::Axis::Rows : GroupLayout::Axis::Columns;
  l.groups = n_groups;
  l.per_group = extent / n_groups;
  l.map_shape = {n_groups};
  return l;
}

}  // namespace paramscope
