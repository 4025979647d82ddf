#include "paramscope/figures/block_bars.h"

namespace paramscope::figures {

std::string block_label(const Block& block) {
  const std::string& name = block.name;
  if (name.empty()) return "(other)";
  // Keras names use '/', everything else '.'.
  const auto last = name.find_last_of("./");
  if (last == std::string::npos) return name;
  if (block.index < 0) return name.substr(last + 1);
  const auto before = last == 0 ? std::string::npos : name.find_last_of("./", last - 1);
  return before == std::string::npos ? name : name.substr(before + 1);
}

std::vector<BlockBar> block_bars(const Checkpoint& checkpoint) {
  std::vector<BlockBar> bars;
  const auto& blocks = checkpoint.hierarchy().blocks();
  bars.reserve(blocks.size());
  for (const auto& b : blocks) bars.push_back(BlockBar{b.name, block_label(b), b.parameters, b.tensors.size()});
  return bars;
}

}  // namespace paramscope::figures
