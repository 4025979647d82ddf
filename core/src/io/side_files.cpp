#include "io/side_files.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "io/checkpoint_builder.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "util/printable.h"

namespace paramscope::io {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxSideFile = 64ull << 20;

bool is_plain_file_name(const std::string& s) {
  return !s.empty() && s.find('/') == std::string::npos && s.find('\\') == std::string::npos && s != "." &&
         s != ".." && s.find('\0') == std::string::npos;
}

}  // namespace

std::string read_small_file(const fs::path& p, std::string_view what) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) throw io_error(p, "cannot read " + std::string(what) + ": " + ec.message());
  if (size > kMaxSideFile) throw bad_input(p, std::string(what) + " is larger than 64 MB");
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) throw io_error(p, "cannot read " + std::string(what));
  return ss.str();
}

nlohmann::json parse_untrusted_json(std::string_view text, const fs::path& file, std::string_view what, int max_depth) {
  using json = nlohmann::json;
  struct TooDeep {};
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string duplicate;
  auto cb = [&](int depth, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    if (depth > max_depth) throw TooDeep{};
    if (event == E::object_start) keys.emplace_back();
    else if (event == E::object_end && !keys.empty()) keys.pop_back();
    else if (event == E::key && !keys.empty() && duplicate.empty() && !keys.back().insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), cb);
  } catch (const TooDeep&) {
    throw bad_input(file, std::string(what) + " nests deeper than the format allows");
  } catch (const json::exception& e) {
    std::string msg = e.what();
    if (auto at = msg.find("] "); at != std::string::npos) msg = msg.substr(at + 2);
    throw bad_input(file, std::string(what) + " is not valid JSON: " + msg);
  }
  if (!duplicate.empty()) throw bad_input(file, std::string(what) + " has the key " + in_quotes(duplicate) + " twice");
  return j;
}

void add_config_json(CheckpointBuilder& b, const fs::path& dir) {
  if (fs::is_regular_file(dir / "config.json")) b.set_config_json(read_small_file(dir / "config.json", "config.json"));
}

ShardIndex read_shard_index(const fs::path& index_path) {
  const auto index = parse_untrusted_json(read_small_file(index_path, "index"), index_path, "index", 4);
  if (!index.is_object()) throw bad_input(index_path, "index is not a JSON object");
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object()) throw bad_input(index_path, "index has no 'weight_map' object");
  ShardIndex out{index_path, {}, {}, {}};
  for (const auto& [name, shard] : wm->items()) {
    if (!shard.is_string()) throw bad_input(index_path, "weight_map entry " + in_quotes(name) + " is not a file name");
    const auto s = shard.get<std::string>();
    // Shards sit beside the index: "../x" or "/etc/x" would read outside the model folder.
    if (!is_plain_file_name(s))
      throw bad_input(index_path,
                      "weight_map entry " + in_quotes(name) + " names " + in_quotes(s) + ", not a file in the same folder");
    out.weight_map.emplace_back(name, s);
    out.shards.push_back(s);
  }
  std::sort(out.shards.begin(), out.shards.end());
  out.shards.erase(std::unique(out.shards.begin(), out.shards.end()), out.shards.end());
  if (out.shards.empty()) throw bad_input(index_path, "weight_map is empty");
  for (const auto& s : out.shards)
    if (!fs::is_regular_file(index_path.parent_path() / s))
      throw bad_input(index_path, "shard " + in_quotes(s) + " listed in weight_map is missing");
  if (auto md = index.find("metadata"); md != index.end() && md->is_object())
    for (const auto& [k, v] : md->items()) out.metadata.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

void check_weight_map(const ShardIndex& index, const Checkpoint& c) {
  for (const auto& [name, shard] : index.weight_map) {
    const Tensor* t = c.find(name);
    if (!t) throw bad_input(index.path, "weight_map lists " + in_quotes(name) + " in " + shard + ", which does not hold it");
    if (fs::path(t->file()).filename() != shard)
      throw bad_input(index.path, "weight_map puts " + in_quotes(name) + " in " + shard + " but it is in " +
                                      fs::path(t->file()).filename().string());
  }
}

}  // namespace paramscope::io
