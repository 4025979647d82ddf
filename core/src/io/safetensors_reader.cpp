// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header size N,
// N bytes of JSON, then the tensors' bytes. Checks follow the reference implementation: header
// size capped at 100 MB, '{' first, dtype/shape/data_offsets on every entry, offsets that tile the
// data buffer with no gap, overlap or trailing bytes, and sizes that match dtype x shape.
#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "io/checkpoint_builder.h"
#include "io/readers.h"
#include "io/side_files.h"
#include "paramscope/error.h"
#include "tensor/tensor_source.h"
#include "util/mapped_file.h"

namespace paramscope::io {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

std::uint64_t as_offset(const json& v, const fs::path& file, const std::string& name) {
  if (!v.is_number_unsigned()) throw bad_input(file, "tensor '" + name + "': data_offsets must be unsigned integers");
  return v.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const json& info, const fs::path& file) {
  auto bad = [&](const std::string& what) { return bad_input(file, "tensor '" + name + "': " + what); };
  if (!info.is_object()) throw bad("entry must be an object with dtype, shape and data_offsets");
  auto dt = info.find("dtype");
  auto sh = info.find("shape");
  auto off = info.find("data_offsets");
  if (dt == info.end() || !dt->is_string()) throw bad("missing or non-string 'dtype'");
  if (sh == info.end() || !sh->is_array()) throw bad("missing or non-array 'shape'");
  if (off == info.end() || !off->is_array() || off->size() != 2) throw bad("'data_offsets' must be [begin, end]");

  Entry e{name, DType::F32, {}, 0, 0};
  const auto dname = dt->get<std::string>();
  const auto dtype = dtype_from_name(dname);
  if (!dtype || dtype_info(*dtype).block_elems != 1) {
    if (dname == "C64" || dname == "F8_E8M0" || dname == "F4" || dname == "F6_E2M3" || dname == "F6_E3M2")
      throw unsupported(file, "tensor '" + name + "': dtype " + dname + " is not one ParamScope reads yet");
    throw bad("unknown dtype '" + dname + "'");
  }
  e.dtype = *dtype;
  if (sh->size() > 64) throw bad("shape has " + std::to_string(sh->size()) + " dimensions");
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      throw bad("shape dimensions must be non-negative integers");
    e.shape.push_back(d.get<std::int64_t>());
  }
  e.begin = as_offset((*off)[0], file, name);
  e.end = as_offset((*off)[1], file, name);
  if (e.end < e.begin)
    throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ") end before they begin");
  const auto n = checked_numel(e.shape);
  const auto bytes = n ? storage_bytes(e.dtype, static_cast<std::uint64_t>(*n)) : std::nullopt;
  if (!bytes) throw bad("shape " + shape_string(e.shape) + " overflows");
  if (*bytes != e.end - e.begin)
    throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ") hold " +
              std::to_string(e.end - e.begin) + " bytes, " + dname + " " + shape_string(e.shape) + " needs " +
              std::to_string(*bytes));
  return e;
}

// Adds one file's tensors to the builder; returns its __metadata__.
std::vector<std::pair<std::string, std::string>> add_file(CheckpointBuilder& b,
                                                          std::shared_ptr<const MappedFile> file) {
  const auto& path = file->path();
  const auto bytes = file->bytes();
  if (bytes.size() < 8)
    throw bad_input(path, "truncated: " + std::to_string(bytes.size()) +
                              " bytes, but a safetensors file starts with an 8-byte header size");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
  if (n > kMaxHeader) throw bad_input(path, "header size " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > bytes.size() - 8)
    throw bad_input(path, "header size " + std::to_string(n) + " is beyond the end of the file (" +
                              std::to_string(bytes.size()) + " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  if (text.empty() || text.front() != '{') throw bad_input(path, "header does not start with '{'");
  const json header = parse_untrusted_json(text, path, "header", 3);
  if (!header.is_object()) throw bad_input(path, "header is not a JSON object");

  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) throw bad_input(path, "__metadata__ must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) throw bad_input(path, "__metadata__ value of '" + mk + "' is not a string");
        metadata.emplace_back(mk, mv.get<std::string>());
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, path));
  }

  const std::uint64_t data_start = 8 + n;
  const std::uint64_t data_size = bytes.size() - data_start;
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* x, const Entry* y) { return std::pair(x->begin, x->end) < std::pair(y->begin, y->end); });
  std::uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    if (e->end > data_size)
      throw bad_input(path, "tensor '" + e->name + "': data_offsets [" + std::to_string(e->begin) + ", " +
                                std::to_string(e->end) + ") reach past the end of the data (" +
                                std::to_string(data_size) + " bytes)");
    if (e->begin < expected)
      throw bad_input(path, "tensors '" + prev->name + "' and '" + e->name + "' overlap (data_offsets " +
                                std::to_string(e->begin) + " < " + std::to_string(expected) + ")");
    if (e->begin > expected)
      throw bad_input(path, "gap of " + std::to_string(e->begin - expected) + " bytes before tensor '" + e->name +
                                "' (data_offsets must tile the data buffer)");
    expected = e->end;
    prev = e;
  }
  if (expected != data_size)
    throw bad_input(
        path, std::to_string(data_size - expected) + " bytes after the last tensor are not described by the header");

  b.add_file(path);
  // Tensors are listed in file order (by offset), which is how writers laid them out.
  for (const Entry* e : by_offset) {
    auto src = detail::make_mapped_source(file, data_start + e->begin, e->dtype, numel(e->shape));
    b.add_tensor(Tensor(e->name, e->dtype, e->shape, std::move(src)));
  }
  return metadata;
}

Checkpoint open_index(const fs::path& index_path, const fs::path& shown_path) {
  const ShardIndex index = read_shard_index(index_path);
  CheckpointBuilder b(shown_path, "safetensors");
  b.add_file(index_path);
  for (const auto& [k, v] : index.metadata) b.add_metadata(k, v);
  for (const auto& s : index.shards)
    for (auto& [k, v] : add_file(b, MappedFile::open(index_path.parent_path() / s)))
      b.add_metadata(s + ":" + k, std::move(v));
  add_config_json(b, index_path.parent_path());
  Checkpoint c = std::move(b).build();
  check_weight_map(index, c);
  return c;
}

}  // namespace

Checkpoint parse_safetensors(std::shared_ptr<const MappedFile> file) {
  CheckpointBuilder b(file->path(), "safetensors");
  for (auto& [k, v] : add_file(b, file)) b.add_metadata(std::move(k), std::move(v));
  return std::move(b).build();
}

Checkpoint open_safetensors(const fs::path& path) {
  if (fs::is_directory(path)) {
    std::vector<fs::path> indexes, files;
    for (const auto& e : fs::directory_iterator(path)) {
      const auto name = e.path().filename().string();
      if (!e.is_regular_file()) continue;
      if (name.ends_with(".safetensors.index.json"))
        indexes.push_back(e.path());
      else if (name.ends_with(".safetensors"))
        files.push_back(e.path());
    }
    std::sort(indexes.begin(), indexes.end());
    std::sort(files.begin(), files.end());
    if (!indexes.empty()) {
      // Hugging Face's own name first; a folder may also hold adapter or EMA indexes.
      auto main = std::find(indexes.begin(), indexes.end(), path / "model.safetensors.index.json");
      return open_index(main != indexes.end() ? *main : indexes.front(), path);
    }
    if (files.empty()) throw bad_input(path, "folder has no *.safetensors file and no *.safetensors.index.json");
    CheckpointBuilder b(path, "safetensors");
    for (const auto& f : files)
      for (auto& [k, v] : add_file(b, MappedFile::open(f)))
        b.add_metadata(files.size() > 1 ? f.filename().string() + ":" + k : k, std::move(v));
    add_config_json(b, path);
    return std::move(b).build();
  }
  if (path.filename().string().ends_with(".index.json")) return open_index(path, path);
  CheckpointBuilder b(path, "safetensors");
  for (auto& [k, v] : add_file(b, MappedFile::open(path))) b.add_metadata(std::move(k), std::move(v));
  // Hugging Face's single-file weights keep the folder's config.json (head counts, model type).
  if (path.filename() == "model.safetensors") add_config_json(b, path.parent_path());
  return std::move(b).build();
}

}  // namespace paramscope::io
