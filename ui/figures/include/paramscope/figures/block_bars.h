// What the parameters-per-block chart shows, computed from a checkpoint without any drawing, so
// that it can be tested (and reused by other views) on its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "paramscope/checkpoint.h"

namespace paramscope::figures {

struct BlockBar {
  std::string block;  ///< the block's full name ("model.layers.3"); "" for tensors outside blocks
  std::string label;  ///< short axis label: "layers.3", "embed_tokens", "lm_head", "(other)"
  std::uint64_t parameters = 0;
  std::size_t tensors = 0;
};

/// One bar per block of checkpoint.hierarchy(), in hierarchy order.
std::vector<BlockBar> block_bars(const Checkpoint& checkpoint);

/// The axis label of a block: the last two name components for numbered blocks ("layers.3"),
/// the last one otherwise ("lm_head"), "(other)" for the unnamed block.
std::string block_label(const Block& block);

}  // namespace paramscope::figures
