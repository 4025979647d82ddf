// GGUF v2/v3 (ggml's docs/gguf.md): "GGUF", version, tensor and key/value counts, the key/value
// pairs, tensor infos (dims in ggml order, innermost first), padding to general.alignment, data.
// Every count is checked against the bytes left before anything is allocated; tensor ranges
// must be aligned, inside the file and disjoint. Shapes are reported outermost first (as numpy
// and gguf-py do), so ne = [4096, 32000] is shape [32000, 4096].
#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "io/checkpoint_builder.h"
#include "io/gguf/block_source.h"
#include "io/gguf/ggml_types.h"
#include "io/gguf/gguf_values.h"
#include "io/readers.h"
#include "paramscope/error.h"
#include "tensor/tensor_source.h"
#include "util/byte_reader.h"
#include "util/mapped_file.h"

namespace paramscope::io {
namespace {

using gguf::ValueType;

constexpr std::uint32_t kDefaultAlignment = 32;
constexpr std::uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
constexpr std::uint64_t kMaxKeyBytes = 65535;  // the spec's limit for keys
// Smallest encodings of a key/value pair (key length, type, a 1-byte value) and of a tensor info
// (name length, n_dims = 0, type, offset): a count that needs more bytes than are left is a lie.
constexpr std::uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

struct Info {
  std::string name;
  DType dtype;
  Shape shape;  // outermost first
  std::uint64_t offset;  // relative to the data section
  std::uint64_t nbytes;
};

std::uint32_t byteswap32(std::uint32_t v) noexcept {
  return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
}

void check_version(const MappedFile& file, std::uint32_t version) {
  const auto& path = file.path();
  if (version == 2 || version == 3) return;
  const std::uint32_t swapped = byteswap32(version);
  if (swapped >= 1 && swapped <= 3)
    throw unsupported(path, "big-endian GGUF (version " + std::to_string(swapped) +
                                " stored byte-swapped); ParamScope reads little-endian GGUF only");
  if (version == 1)
    throw unsupported(path, "GGUF version 1 is not supported (it predates 64-bit counts); reconvert the model "
                            "with a current llama.cpp to get version 3");
  if (version == 0) throw bad_input(path, "GGUF version 0 is invalid");
  throw unsupported(path, "GGUF version " + std::to_string(version) + " is newer than ParamScope reads (2 and 3)");
}

// Reads a tensor info; validates what can be checked without the data section's position.
Info read_info(ByteReader& r, std::uint64_t index, const std::filesystem::path& path) {
  Info t;
  const std::string what = "tensor info #" + std::to_string(index);
  t.name = std::string(gguf::read_gguf_string(r, what + " name"));
  if (t.name.empty()) r.fail(what + " has an empty name");
  if (t.name.size() > kMaxKeyBytes) r.fail(what + " has a name of " + std::to_string(t.name.size()) + " bytes");
  auto bad = [&](const std::string& m) { return bad_input(path, "tensor '" + t.name + "': " + m); };

  const auto n_dims = r.read<std::uint32_t>(what + " n_dims");
  if (n_dims > kMaxDims) throw bad(std::to_string(n_dims) + " dimensions; GGUF allows at most 4");
  std::vector<std::uint64_t> ne(n_dims);
  for (auto& d : ne) {
    d = r.read<std::uint64_t>(what + " dimension");
    if (d > static_cast<std::uint64_t>(INT64_MAX)) throw bad("dimension " + std::to_string(d) + " is too large");
  }
  const auto type_id = r.read<std::uint32_t>(what + " type");
  const auto offset = r.read<std::uint64_t>(what + " offset");

  const auto type = gguf::ggml_type(type_id);
  if (!type) throw bad("unknown ggml type id " + std::to_string(type_id));
  if (!type->dtype)
    throw unsupported(path, "tensor '" + t.name + "': ggml type " + std::to_string(type_id) + " (" +
                                std::string(type->name) + ") is not supported (removed from GGUF, or newer than ParamScope)");
  t.dtype = *type->dtype;
  t.shape.assign(ne.rbegin(), ne.rend());
  const auto n = checked_numel(t.shape);
  if (!n) throw bad("shape " + shape_string(t.shape) + " overflows");
  // ggml stores whole blocks per row: the innermost dimension must be a multiple of the block.
  const auto block = dtype_info(t.dtype).block_elems;
  if (!ne.empty() && ne[0] % block != 0)
    throw bad(std::string(type->name) + " rows hold " + std::to_string(ne[0]) + " elements, not a multiple of its " +
              std::to_string(block) + "-element block");
  if (ne.empty() && block != 1) throw bad("a scalar cannot be stored as " + std::string(type->name));
  const auto bytes = storage_bytes(t.dtype, static_cast<std::uint64_t>(*n));
  if (!bytes) throw bad("size of " + std::string(type->name) + " " + shape_string(t.shape) + " overflows");
  t.nbytes = *bytes;
  t.offset = offset;
  return t;
}

}  // namespace

Checkpoint parse_gguf(std::shared_ptr<const MappedFile> file) {
  const auto& path = file->path();
  ByteReader r(file->bytes(), path);
  if (file->size() == 0) throw bad_input(path, "empty file (0 bytes), not a GGUF file");
  const auto magic = r.read_string(std::min<std::uint64_t>(4, r.size()), "magic");
  if (magic != "GGUF") throw bad_input(path, "not a GGUF file (it does not start with \"GGUF\")");
  check_version(*file, r.read<std::uint32_t>("version"));
  const auto tensor_count = r.read<std::uint64_t>("tensor_count");
  const auto kv_count = r.read<std::uint64_t>("kv_count");
  if (kv_count > r.remaining() / kMinKvBytes)
    throw bad_input(path, "kv_count " + std::to_string(kv_count) + " cannot fit in the " +
                              std::to_string(r.remaining()) + " bytes after the header");
  if (tensor_count > r.remaining() / kMinTensorInfoBytes)
    throw bad_input(path, "tensor_count " + std::to_string(tensor_count) + " cannot fit in the " +
                              std::to_string(r.remaining()) + " bytes after the header");

  std::vector<std::pair<std::string, std::string>> kvs;
  kvs.reserve(std::min<std::uint64_t>(kv_count, 4096));  // counts are bounded by the file, not by RAM
  std::unordered_set<std::string> keys;
  std::uint32_t alignment = kDefaultAlignment;
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    const std::string what = "key #" + std::to_string(i);
    std::string key(gguf::read_gguf_string(r, what));
    if (key.empty()) r.fail(what + " is empty");
    if (key.size() > kMaxKeyBytes) r.fail(what + " is longer than 65535 bytes");
    if (!keys.insert(key).second) throw bad_input(path, "key '" + key + "' appears twice");
    const auto type = r.read<std::uint32_t>("type of key '" + key + "'");
    if (key == "general.alignment") {
      // ggml insists on uint32 here; the data section's layout depends on it.
      if (type != static_cast<std::uint32_t>(ValueType::UINT32))
        throw bad_input(path, "general.alignment must be a uint32, not " +
                                  std::string(gguf::value_type_name(type).empty() ? "type " + std::to_string(type)
                                                                                  : gguf::value_type_name(type)));
      alignment = r.read<std::uint32_t>("general.alignment");
      if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        throw bad_input(path, "general.alignment " + std::to_string(alignment) + " is not a power of two");
      kvs.emplace_back(std::move(key), std::to_string(alignment));
      continue;
    }
    auto value = gguf::read_value(r, type, "key '" + key + "'");
    kvs.emplace_back(std::move(key), std::move(value));
  }

  std::vector<Info> infos;
  infos.reserve(std::min<std::uint64_t>(tensor_count, 4096));
  std::unordered_set<std::string> names;
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    infos.push_back(read_info(r, i, path));
    if (!names.insert(infos.back().name).second)
      throw bad_input(path, "tensor name '" + infos.back().name + "' appears twice");
  }

  // The data section starts at the first multiple of the alignment after the tensor infos.
  const std::uint64_t header_end = r.offset();
  const std::uint64_t data_start = (header_end + alignment - 1) / alignment * alignment;
  if (tensor_count > 0 && data_start > file->size())
    throw bad_input(path, "truncated: the data section would start at offset " + std::to_string(data_start) +
                              ", past the end of the file (" + std::to_string(file->size()) + " bytes)");
  const std::uint64_t data_size = tensor_count > 0 ? file->size() - data_start : 0;

  std::vector<const Info*> by_offset;
  by_offset.reserve(infos.size());
  for (const auto& t : infos) {
    if (t.offset % alignment != 0)
      throw bad_input(path, "tensor '" + t.name + "': offset " + std::to_string(t.offset) +
                                " is not a multiple of the alignment " + std::to_string(alignment));
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw bad_input(path, "tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", " +
                                std::to_string(t.offset) + " + " + std::to_string(t.nbytes) +
                                ") reaches past the end of the data section (" + std::to_string(data_size) + " bytes)");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const Info* a, const Info* b) {
    return std::pair(a->offset, a->nbytes) < std::pair(b->offset, b->nbytes);
  });
  const Info* prev = nullptr;
  for (const Info* t : by_offset) {
    if (t->nbytes == 0) continue;
    if (prev && t->offset < prev->offset + prev->nbytes)
      throw bad_input(path, "tensors '" + prev->name + "' and '" + t->name + "' overlap (bytes [" +
                                std::to_string(prev->offset) + ", " + std::to_string(prev->offset + prev->nbytes) +
                                ") and [" + std::to_string(t->offset) + ", " + std::to_string(t->offset + t->nbytes) +
                                ") of the data section)");
    prev = t;
  }

  CheckpointBuilder b(path, "gguf");
  b.add_file(path);
  // general.architecture and general.name lead; the rest keep the file's order.
  for (const char* first : {"general.architecture", "general.name"})
    for (const auto& [k, v] : kvs)
      if (k == first) b.add_metadata(k, v);
  for (auto& [k, v] : kvs)
    if (k != "general.architecture" && k != "general.name") b.add_metadata(std::move(k), std::move(v));

  for (const auto& t : infos) {
    const auto n = numel(t.shape);
    const std::uint64_t at = data_start + t.offset;
    auto src = dtype_info(t.dtype).block_elems == 1 ? detail::make_mapped_source(file, at, t.dtype, n)
                                                    : gguf::make_block_source(file, at, t.dtype, n);
    b.add_tensor(Tensor(t.name, t.dtype, t.shape, std::move(src)));
  }
  return std::move(b).build();
}

Checkpoint open_gguf(const std::filesystem::path& path) { return parse_gguf(MappedFile::open(path)); }

}  // namespace paramscope::io
