// What the readers share around the weights themselves: small JSON side files (shard indexes,
// config.json) read and parsed as untrusted input, and the weight_map of sharded checkpoints.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace paramscope {
class Checkpoint;
class CheckpointBuilder;
}  // namespace paramscope

namespace paramscope::io {

/// A side file's text, at most 64 MB. throws Error(Io) if unreadable, Error(BadInput) if larger.
std::string read_small_file(const std::filesystem::path& path, std::string_view what);

/// Parses untrusted JSON: rejects duplicate keys in any object (nlohmann would keep the last)
/// and nesting deeper than max_depth. throws Error(BadInput) naming file and what.
nlohmann::json parse_untrusted_json(std::string_view text, const std::filesystem::path& file, std::string_view what,
                                    int max_depth);

/// Adds <dir>/config.json to the checkpoint when there is one.
void add_config_json(CheckpointBuilder& builder, const std::filesystem::path& dir);

/// A Hugging Face shard index (model.safetensors.index.json, pytorch_model.bin.index.json).
struct ShardIndex {
  std::filesystem::path path;
  std::vector<std::pair<std::string, std::string>> weight_map;  ///< tensor name -> shard file name
  std::vector<std::string> shards;                              ///< sorted, unique, files beside the index
  std::vector<std::pair<std::string, std::string>> metadata;    ///< the index's "metadata" object
};

/// Reads and checks an index: weight_map present and non-empty, shard names plain file names in
/// the same folder (never "../x" or "/etc/x") that exist. throws Error(BadInput) naming the index.
ShardIndex read_shard_index(const std::filesystem::path& index_path);

/// Checks that every weight_map entry is in the checkpoint and in the shard the index names.
/// throws Error(BadInput) naming the index.
void check_weight_map(const ShardIndex& index, const Checkpoint& checkpoint);

}  // namespace paramscope::io
