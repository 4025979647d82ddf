// Readers assemble a Checkpoint through this builder, which checks what every format must hold.
#pragma once

#include <filesystem>
#include <string>

#include "paramscope/checkpoint.h"

namespace paramscope {

class CheckpointBuilder {
public:
  CheckpointBuilder(std::filesystem::path path, std::string format);

  void add_file(const std::filesystem::path& file);
  void add_tensor(Tensor tensor);
  void add_optimizer_tensor(Tensor tensor);
  void add_metadata(std::string key, std::string value);
  void set_config_json(std::string text);

  /// throws Error(BadInput) naming the checkpoint if two model tensors share a name.
  Checkpoint build() &&;

private:
  Checkpoint c_;
};

}  // namespace paramscope
