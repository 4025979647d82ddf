// Finds the tensors in an unpickled torch.save object and names them as users know them: state
// dict keys, module.state_dict() names for pickled nn.Modules, and dotted key paths elsewhere.
// Optimizer state is found and kept apart.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/pytorch/pickle_value.h"
#include "io/pytorch/torch_objects.h"
#include "paramscope/tensor.h"

namespace paramscope::io::pytorch {

struct NamedTensor {
  std::string name;
  std::size_t tensor;  // index into TorchObjects::tensors()
  TensorRole role;
};

struct FoundTensors {
  std::vector<NamedTensor> model;      // parameters and buffers, in pickle order
  std::vector<NamedTensor> optimizer;  // optimizer state, and tensors beside an obvious model state dict
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<std::pair<std::string, std::string>> skipped;  // name, why it cannot be read
};

/// Walks root; value_count is the number of values the pickle built. throws Error(BadInput)
/// naming file if objects nest deeper than kMaxDepth or the walk (shared references visited once
/// per path) takes more steps than the values could need: 8 per value plus 100000, at most kMaxVisits.
FoundTensors find_tensors(const Value* root, const std::vector<TensorRecord>& tensors, const std::filesystem::path& file,
                          std::size_t value_count);

inline constexpr int kMaxDepth = 500;
inline constexpr std::size_t kMaxVisits = 4'000'000;

}  // namespace paramscope::io::pytorch
