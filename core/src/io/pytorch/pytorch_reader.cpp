// PyTorch checkpoints as torch.save writes them (torch/serialization.py):
//  - zip (torch >= 1.6): <prefix>/data.pkl, <prefix>/data/<storage key>, <prefix>/version and,
//    since torch 2.1, <prefix>/byteorder. Storages are STORED and 64-byte aligned, so they are
//    mapped in place.
//  - legacy (_use_new_zipfile_serialization=False): pickles of the magic number, the protocol
//    version and sys_info, then the object, then the sorted storage keys, then per key an int64
//    element count and the raw little-endian bytes.
//  - Hugging Face sharding: pytorch_model.bin.index.json with a weight_map of shard files.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint_builder.h"
#include "io/pytorch/tensor_naming.h"
#include "io/pytorch/torch_objects.h"
#include "io/pytorch/unpickler.h"
#include "io/readers.h"
#include "io/side_files.h"
#include "io/zip_archive.h"
#include "paramscope/error.h"
#include "tensor/tensor_source.h"
#include "util/mapped_file.h"
#include "util/printable.h"

namespace paramscope::io {
namespace fs = std::filesystem;
using namespace pytorch;

namespace {

constexpr std::uint64_t kMaxPickleInMemory = 1ull << 30;       // a deflated data.pkl
constexpr std::uint64_t kMaxInflatedStorage = 16ull << 30;      // a deflated tensor storage
constexpr std::uint64_t kMaxSmallRecord = 64;                  // version, byteorder
// torch.save's magic number 0x1950a86a20f9469cfc6c as pickle's little-endian LONG1 bytes.
constexpr unsigned char kMagicLE[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::string_view kMagicDecimal = "119547037146038801333356";
constexpr std::int64_t kLegacyProtocol = 1001;

struct TorchFile {
  std::string format;
  std::vector<Tensor> model;
  std::vector<Tensor> optimizer;
  std::vector<std::pair<std::string, std::string>> metadata;
};


std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  return s;
}

// Turns what the walk found into Tensors; metadata about the file comes first.
TorchFile finish(const fs::path& path, std::string format, std::vector<std::pair<std::string, std::string>> metadata,
                 TorchObjects& objs, const Arena& arena, const Value* root) {
  FoundTensors found = find_tensors(root, objs.tensors(), path, arena.size());
  TorchFile out{std::move(format), {}, {}, std::move(metadata)};
  std::set<std::string> devices;
  for (const auto& s : objs.storages())
    if (!s.location.empty() && s.location != "cpu") devices.insert(s.location);
  if (!devices.empty()) {
    std::string list;
    for (const auto& d : devices) list += (list.empty() ? "" : ", ") + d;
    out.metadata.emplace_back("saved_on", list);
  }
  for (auto& m : found.metadata) out.metadata.push_back(std::move(m));
  const auto& records = objs.tensors();
  for (auto& t : found.model) {
    const TensorRecord& r = records[t.tensor];
    out.model.emplace_back(std::move(t.name), r.dtype, r.shape, r.source, t.role);
  }
  for (auto& t : found.optimizer) {
    const TensorRecord& r = records[t.tensor];
    out.optimizer.emplace_back(std::move(t.name), r.dtype, r.shape, r.source, TensorRole::Optimizer);
  }
  for (const auto& [name, why] : found.skipped) out.metadata.emplace_back("skipped tensor " + printable(name), why);
  if (out.model.empty() && out.optimizer.empty() && !found.skipped.empty())
    throw unsupported(path, "tensor " + in_quotes(found.skipped.front().first) + ": " + found.skipped.front().second +
                                " (and the file holds no tensor ParamScope can read)");
  return out;
}

// ---- zip (torch >= 1.6) -------------------------------------------------------------------

// torch's reader takes the folder of the first entry as the archive's prefix; accept any single
// <prefix>/data.pkl (tools that rewrite archives may reorder entries).
std::string find_prefix(const ZipArchive& zip) {
  const auto& path = zip.file()->path();
  const auto& entries = zip.entries();
  if (!entries.empty()) {
    const auto slash = entries.front().name.find('/');
    if (slash != std::string::npos && zip.find(entries.front().name.substr(0, slash + 1) + "data.pkl"))
      return entries.front().name.substr(0, slash + 1);
  }
  std::vector<std::string> prefixes;
  for (const auto& e : entries) {
    if (e.name == "data.pkl") prefixes.emplace_back();
    else if (e.name.ends_with("/data.pkl") && e.name.find('/') == e.name.size() - 9)
      prefixes.push_back(e.name.substr(0, e.name.size() - 8));
  }
  if (prefixes.size() == 1) return prefixes.front();
  if (prefixes.size() > 1) throw bad_input(path, "zip archive holds " + std::to_string(prefixes.size()) + " data.pkl records");
  for (const auto& e : entries) {
    if (e.name.ends_with(".npy"))
      throw unsupported(path, "zip archive of .npy files (a NumPy .npz), not a torch.save checkpoint");
    if (e.name == "config.json" || e.name == "model.weights.h5")
      throw unsupported(path, "a Keras 3 .keras archive, not a torch.save checkpoint (open its model.weights.h5)");
  }
  throw bad_input(path, "zip archive has no data.pkl record: not a torch.save checkpoint");
}

std::string read_small_record(const ZipArchive& zip, const ZipEntry& e) {
  const auto bytes = zip.read(e, kMaxSmallRecord);
  return trim(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

TorchFile read_zip(std::shared_ptr<const MappedFile> file) {
  const auto& path = file->path();
  ZipArchive zip(file);
  const std::string prefix = find_prefix(zip);
  std::vector<std::pair<std::string, std::string>> metadata;

  const ZipEntry* version = zip.find(prefix + "version");
  if (!version) version = zip.find(prefix + ".data/version");
  if (version) metadata.emplace_back("format_version", printable(read_small_record(zip, *version)));
  bool big_endian = false;
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    const std::string order = read_small_record(zip, *bo);
    if (order != "little" && order != "big")
      throw bad_input(path, "byteorder record says " + in_quotes(order) + ", not 'little' or 'big'");
    big_endian = order == "big";
    metadata.emplace_back("byteorder", order);
  }
  const bool torchscript = zip.find(prefix + "constants.pkl") != nullptr;
  if (torchscript) metadata.emplace_back("torchscript", "true");

  const ZipEntry& pkl = *zip.find(prefix + "data.pkl");
  std::vector<std::byte> inflated;
  std::span<const std::byte> pickle;
  if (pkl.method == 0) {
    pickle = zip.stored_bytes(pkl, true);
  } else {
    inflated = zip.read(pkl, kMaxPickleInMemory);
    pickle = inflated;
  }

  Arena arena(path);
  TorchObjects objs(path, arena);
  const std::string where = printable(pkl.name);
  objs.set_where(where);
  Unpickler unpickler(pickle, 0, where, path, arena, objs);
  const Value* root = unpickler.load();

  for (auto& s : objs.storages()) {
    if (s.view_root) continue;
    const std::string name = prefix + "data/" + s.key;
    const ZipEntry* e = zip.find(name);
    if (!e)
      throw bad_input(path, where + " refers to storage " + in_quotes(s.key) + ", but the archive has no record " +
                                in_quotes(name));
    if (e->size < s.nbytes())
      throw bad_input(path, "record " + in_quotes(name) + " holds " + std::to_string(e->size) + " bytes, but its " +
                                s.type_name + " of " + std::to_string(s.numel) + " elements needs " +
                                std::to_string(s.nbytes()));
    if (e->method == 0) {
      s.file = file;
      s.offset = e->data_offset;
    } else {
      // Deflated storages (archives rewritten by other tools) are inflated into memory.
      s.file = MappedFile::from_buffer(zip.read(*e, kMaxInflatedStorage), path);
      s.offset = 0;
    }
    s.located = true;
  }
  objs.resolve_tensors(big_endian);
  return finish(path, "pytorch", std::move(metadata), objs, arena, root);
}

// ---- legacy (torch < 1.6) -----------------------------------------------------------------

bool is_magic(const Value* v) {
  if (!v->is(Kind::BigInt)) return false;
  if (v->flag) return v->text == kMagicDecimal;
  return v->text.size() == sizeof kMagicLE && std::memcmp(v->text.data(), kMagicLE, sizeof kMagicLE) == 0;
}

TorchFile read_legacy(std::shared_ptr<const MappedFile> file) {
  const auto& path = file->path();
  const auto bytes = file->bytes();
  Arena arena(path);
  TorchObjects objs(path, arena);

  Unpickler magic(bytes, 0, "magic number pickle", path, arena, objs);
  const Value* first = nullptr;
  try {
    first = magic.load();
  } catch (const Error&) {
    throw bad_input(path, "not a PyTorch checkpoint: neither a zip archive nor a pickle of torch.save's magic number");
  }
  if (!is_magic(first))
    throw bad_input(path, "starts with a pickle that is not torch.save's magic number: not a PyTorch checkpoint");
  Unpickler proto(bytes, magic.position(), "protocol version pickle", path, arena, objs);
  const Value* version = proto.load();
  if (!version->is(Kind::Int) || version->integer != kLegacyProtocol)
    throw unsupported(path, "legacy torch.save protocol version " + scalar_text(*version) + " (only 1001 is known)");
  Unpickler sys_info(bytes, proto.position(), "sys_info pickle", path, arena, objs);
  const Value* info = sys_info.load();
  std::vector<std::pair<std::string, std::string>> metadata{{"format_version", std::to_string(kLegacyProtocol)}};
  if (const Value* le = info->get("little_endian"); le && le->is(Kind::Bool) && !le->flag)
    metadata.emplace_back("saved_on", "a big-endian machine");

  objs.set_where("pickle");
  Unpickler main(bytes, sys_info.position(), "pickle", path, arena, objs);
  const Value* root = main.load();
  Unpickler keys_pickle(bytes, main.position(), "storage key list", path, arena, objs);
  const Value* keys = keys_pickle.load();
  if (!keys->is(Kind::List)) throw bad_input(path, "the storage key list after the pickle is not a list");

  // Each storage: an int64 element count, then that many elements (torch writes them little-endian).
  std::uint64_t pos = keys_pickle.position();
  for (const Value* k : keys->items) {
    const std::string key = k->is_text() ? printable(k->text) : scalar_text(*k);
    const auto index = k->is_text() ? objs.find_storage(k->text) : std::nullopt;
    if (!index) throw bad_input(path, "storage key " + in_quotes(key) + " is listed but no tensor uses it");
    StorageRecord& s = objs.storages()[*index];
    if (s.view_root || s.located) throw bad_input(path, "storage key " + in_quotes(key) + " is listed twice");
    if (bytes.size() - pos < 8)
      throw bad_input(path, "truncated: storage " + in_quotes(key) + " needs its 8-byte size at offset " +
                                std::to_string(pos) + ", " + std::to_string(bytes.size() - pos) + " bytes left");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(bytes[pos + static_cast<std::uint64_t>(i)]);
    if (n != static_cast<std::uint64_t>(s.numel))
      throw bad_input(path, "storage " + in_quotes(key) + " holds " + std::to_string(n) + " elements at offset " +
                                std::to_string(pos) + ", but the pickle says " + std::to_string(s.numel));
    pos += 8;
    if (s.nbytes() > bytes.size() - pos)
      throw bad_input(path, "truncated: storage " + in_quotes(key) + " needs " + std::to_string(s.nbytes()) +
                                " bytes at offset " + std::to_string(pos) + ", " + std::to_string(bytes.size() - pos) +
                                " left");
    s.file = file;
    s.offset = pos;
    s.located = true;
    pos += s.nbytes();
  }
  for (const auto& s : objs.storages())
    if (!s.view_root && !s.located)
      throw bad_input(path, "storage " + in_quotes(s.key) + " is used by the pickle but its data is not in the file");
  objs.resolve_tensors(false);
  return finish(path, "pytorch-legacy", std::move(metadata), objs, arena, root);
}

TorchFile read_torch_file(std::shared_ptr<const MappedFile> file) {
  const auto& path = file->path();
  const auto b = file->bytes();
  if (b.empty()) throw bad_input(path, "empty file (0 bytes), not a PyTorch checkpoint");
  auto starts = [&](std::string_view magic, std::size_t at = 0) {
    return b.size() >= at + magic.size() && std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
  };
  if (starts("PK\x03\x04") || starts("PK\x05\x06") || starts("PK\x06\x06")) return read_zip(std::move(file));
  if (starts("ustar", 257))
    throw unsupported(path, "a tar archive: the torch.save format of PyTorch before 0.4, which ParamScope does not read "
                            "(load and re-save it with a recent PyTorch)");
  return read_legacy(std::move(file));
}

// ---- sharded (Hugging Face) ---------------------------------------------------------------

Checkpoint open_index(const fs::path& index_path, const fs::path& shown_path) {
  const ShardIndex index = read_shard_index(index_path);
  const fs::path dir = index_path.parent_path();
  std::vector<TorchFile> files;
  bool all_legacy = true;
  for (const auto& s : index.shards) {
    files.push_back(read_torch_file(MappedFile::open(dir / s)));
    all_legacy = all_legacy && files.back().format == "pytorch-legacy";
  }
  CheckpointBuilder b(shown_path, all_legacy ? "pytorch-legacy" : "pytorch");
  b.add_file(index_path);
  for (const auto& [k, v] : index.metadata) b.add_metadata(k, v);
  for (std::size_t i = 0; i < files.size(); ++i) {
    b.add_file(dir / index.shards[i]);
    for (auto& t : files[i].model) b.add_tensor(std::move(t));
    for (auto& t : files[i].optimizer) b.add_optimizer_tensor(std::move(t));
    for (auto& [k, v] : files[i].metadata) b.add_metadata(index.shards[i] + ":" + k, std::move(v));
  }
  add_config_json(b, dir);
  Checkpoint c = std::move(b).build();
  check_weight_map(index, c);
  return c;
}

Checkpoint build(const fs::path& path, TorchFile tf, bool with_config) {
  CheckpointBuilder b(path, tf.format);
  b.add_file(path);
  for (auto& t : tf.model) b.add_tensor(std::move(t));
  for (auto& t : tf.optimizer) b.add_optimizer_tensor(std::move(t));
  for (auto& [k, v] : tf.metadata) b.add_metadata(std::move(k), std::move(v));
  if (with_config) add_config_json(b, path.parent_path());
  return std::move(b).build();
}

}  // namespace

Checkpoint parse_pytorch(std::shared_ptr<const MappedFile> file) {
  const fs::path path = file->path();
  return build(path, read_torch_file(std::move(file)), false);
}

Checkpoint open_pytorch(const fs::path& path) {
  if (fs::is_directory(path)) {
    std::vector<fs::path> indexes;
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file() && e.path().filename().string().ends_with(".bin.index.json")) indexes.push_back(e.path());
    std::sort(indexes.begin(), indexes.end());
    if (!indexes.empty()) {
      auto main = std::find(indexes.begin(), indexes.end(), path / "pytorch_model.bin.index.json");
      return open_index(main != indexes.end() ? *main : indexes.front(), path);
    }
    for (const char* name : {"pytorch_model.bin", "model.pt", "model.pth"})
      if (fs::is_regular_file(path / name)) return open_pytorch(path / name);
    throw bad_input(path, "folder has no pytorch_model.bin.index.json, pytorch_model.bin, model.pt or model.pth");
  }
  if (path.filename().string().ends_with(".index.json")) return open_index(path, path);
  // A Hugging Face folder's single-file weights: keep the config.json found beside them.
  return build(path, read_torch_file(MappedFile::open(path)), path.filename() == "pytorch_model.bin");
}

}  // namespace paramscope::io
