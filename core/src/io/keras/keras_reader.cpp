// Keras checkpoints in HDF5: Keras 2 model.save("x.h5") and save_weights("x.h5"), Keras 3
// save_weights("x.weights.h5"), and Keras 3 .keras archives (a zip holding model.weights.h5).
// Any other HDF5 file is read as plain datasets. Layouts are in keras2_layout.cpp and
// keras3_layout.cpp; dataset types and storage in h5_dataset.cpp.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "io/checkpoint_builder.h"
#include "io/keras/h5_file.h"
#include "io/keras/keras_config.h"
#include "io/keras/keras_layouts.h"
#include "io/readers.h"
#include "io/zip_archive.h"
#include "paramscope/error.h"
#include "util/hdf5_util.h"
#include "util/isolated_run.h"
#include "util/mapped_file.h"

namespace paramscope::io {
namespace fs = std::filesystem;
using namespace keras;

namespace {

constexpr unsigned char kHdf5Signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
constexpr std::uint64_t kMaxSideFile = 64ull << 20;       // config.json / metadata.json
constexpr std::uint64_t kMaxInflatedWeights = 8ull << 30;  // a deflated model.weights.h5 is inflated in memory

bool has_signature_at(std::span<const std::byte> b, std::uint64_t off) {
  return off <= b.size() && b.size() - off >= sizeof kHdf5Signature &&
         std::memcmp(b.data() + off, kHdf5Signature, sizeof kHdf5Signature) == 0;
}

// HDF5 looks for its signature at 0, 512, 1024, 2048, ... (files with a user block).
bool has_hdf5_signature(std::span<const std::byte> b) {
  if (has_signature_at(b, 0)) return true;
  for (std::uint64_t off = 512; off < b.size(); off *= 2)
    if (has_signature_at(b, off)) return true;
  return false;
}

bool is_zip(std::span<const std::byte> b) {
  return b.size() >= 4 && std::memcmp(b.data(), "PK\x03\x04", 4) == 0;
}

bool is_group(const H5File& f, hid_t parent, std::string_view name) {
  auto g = open_object(f, parent, name, "/");
  return g && kind_of(g->get()) == ObjKind::Group;
}

bool has_attribute(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

bool has_list(hid_t obj, const std::string& name) {
  return has_attribute(obj, name.c_str()) || has_attribute(obj, (name + "0").c_str());
}

// keras_version and backend: the root holds them for model.save and save_weights; the
// model_weights group repeats them.
void add_versions(const H5File& f, hid_t root, hid_t weights, Metadata& meta) {
  for (const char* key : {"keras_version", "backend"}) {
    auto v = read_string(f, root, key, "/");
    if (!v && weights != root) v = read_string(f, weights, key, "/model_weights");
    if (v) meta.emplace_back(key, *v);
  }
}

enum class Layout { Keras2Full, Keras2Weights, Keras3, Plain };

Layout detect(const H5File& f, hid_t root) {
  if (is_group(f, root, "model_weights")) return Layout::Keras2Full;
  if (has_list(root, "layer_names")) return Layout::Keras2Weights;
  for (const char* g : {"layers", "_layer_checkpoint_dependencies", "vars"})
    if (is_group(f, root, g)) return Layout::Keras3;
  // layer_names lost: still Keras 2 if the file says so or its layer groups carry weight_names.
  if (has_attribute(root, "keras_version") || has_attribute(root, "backend")) return Layout::Keras2Weights;
  for (const auto& c : children(f, root, "/"))
    if (c.kind == ObjKind::Group)
      if (auto g = open_object(f, root, c.name, "/"); g && has_list(g->get(), "weight_names")) return Layout::Keras2Weights;
  return Layout::Plain;
}

Checkpoint read_hdf5(const std::shared_ptr<H5File>& file, const fs::path& shown, Metadata extra, bool archive) {
  const H5File& f = *file;
  h5::Handle root(H5Gopen2(f.id(), "/", H5P_DEFAULT));
  if (!root.valid()) throw bad_input(f.path(), "cannot open the root group: " + h5::last_error());
  const Layout layout = detect(f, root.get());
  const char* format = layout == Layout::Keras3 ? "keras3-weights" : layout == Layout::Plain ? "hdf5" : "keras-h5";
  CheckpointBuilder b(shown, format);
  b.add_file(shown);
  Sink sink{file, b, {}, 0, 0};
  Metadata meta = std::move(extra);

  switch (layout) {
    case Layout::Keras2Full: {
      auto weights = open_object(f, root.get(), "model_weights", "/");
      add_versions(f, root.get(), weights->get(), meta);
      const auto layers = read_keras2_weights(sink, weights->get(), "/model_weights");
      if (auto cfg = read_string(f, root.get(), "model_config", "/")) summarise_model_config(*cfg, "model_config", meta);
      else meta.emplace_back("layer_count", std::to_string(layers));
      if (auto tc = read_string(f, root.get(), "training_config", "/")) summarise_training_config(*tc, meta);
      if (auto opt = open_object(f, root.get(), "optimizer_weights", "/"); opt && kind_of(opt->get()) == ObjKind::Group)
        read_keras2_optimizer(sink, opt->get(), "/optimizer_weights");
      break;
    }
    case Layout::Keras2Weights: {
      add_versions(f, root.get(), root.get(), meta);
      meta.emplace_back("layer_count", std::to_string(read_keras2_weights(sink, root.get(), "/")));
      break;
    }
    case Layout::Keras3: {
      const auto layers = read_keras3_weights(sink, root.get());
      // A .keras archive's config.json already gave the layer count.
      if (!archive) meta.emplace_back("layer_count", std::to_string(layers));
      break;
    }
    case Layout::Plain: read_all_datasets(sink, root.get()); break;
  }
  for (auto& [k, v] : meta) b.add_metadata(std::move(k), std::move(v));
  return std::move(b).build();
}

std::string member_text(const ZipArchive& zip, const ZipEntry& e) {
  const auto bytes = zip.read(e, kMaxSideFile);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A Keras 3 .keras file: metadata.json, config.json and model.weights.h5 in a zip. Python's
// zipfile stores members uncompressed by default, so the weights are usually read in place.
Checkpoint open_archive(const std::shared_ptr<const MappedFile>& map) {
  const auto& path = map->path();
  const ZipArchive zip(map);
  const ZipEntry* weights = zip.find("model.weights.h5");
  if (!weights) {
    if (zip.find("model.weights.npz")) throw unsupported(path, "the archive keeps its weights as model.weights.npz, not HDF5");
    throw bad_input(path, "zip archive without model.weights.h5: not a Keras .keras file");
  }
  Metadata meta;
  if (const ZipEntry* m = zip.find("metadata.json")) summarise_archive_metadata(member_text(zip, *m), meta);
  if (const ZipEntry* c = zip.find("config.json")) summarise_model_config(member_text(zip, *c), "config.json", meta);

  std::shared_ptr<const MappedFile> image = map;
  std::uint64_t base = weights->data_offset;
  if (weights->method != 0) {
    image = MappedFile::from_buffer(zip.read(*weights, kMaxInflatedWeights), path);
    base = 0;
  } else {
    zip.stored_bytes(*weights);  // checks that a STORED member is readable in place (not encrypted)
  }
  if (!has_signature_at(image->bytes(), base)) throw bad_input(path, "model.weights.h5 in the archive is not an HDF5 file");
  std::lock_guard lock(h5::mutex());
  auto file = H5File::open_image(image, base, weights->size, path);
  return read_hdf5(file, path, std::move(meta), true);
}

// libhdf5 1.10 crashes on some corrupted files (fuzzing found heap overflows and segfaults in its
// attribute and variable-length string code). The whole parse, plus a first read of every
// tensor, runs once in a child process; only if that child survives does it run in-process.
// PARAMSCOPE_TRUST_HDF5=1 skips the check for files the user trusts (it doubles opening time).
template <class Open>
Checkpoint vetted(const fs::path& path, Open open) {
  static const bool trust = [] {
    const char* v = std::getenv("PARAMSCOPE_TRUST_HDF5");
    return v && std::string_view(v) == "1";
  }();
  if (!trust) {
    auto failure = run_isolated(
        [&] {
          const Checkpoint c = open();
          std::vector<float> buf(16);
          for (const auto* list : {&c.tensors(), &c.optimizer_tensors()})
            for (const Tensor& t : *list) {
              const auto n = std::min<std::int64_t>(t.numel(), 16);
              t.read_f32(0, std::span<float>(buf.data(), static_cast<std::size_t>(n)));
              if (t.numel() > 16) t.read_f32(t.numel() - 16, buf);
            }
        },
        std::chrono::seconds(120));
    if (failure && failure->crashed)
      throw bad_input(path, "the HDF5 library " + failure->message + " while parsing it: the file is corrupt");
    if (failure) throw Error(failure->kind, failure->message);
  }
  return open();
}

}  // namespace

Checkpoint open_keras(const fs::path& path) {
  auto map = MappedFile::open(path);
  const auto bytes = map->bytes();
  if (bytes.empty()) throw bad_input(path, "empty file (0 bytes), not an HDF5 or .keras file");
  const bool zip = is_zip(bytes);
  if (!zip && !has_hdf5_signature(bytes)) throw bad_input(path, "not an HDF5 file (no HDF5 signature)");
  // Held throughout, also while forking (so that no other thread holds it in the child): the HDF5
  // handles made while parsing are closed under it too.
  std::lock_guard lock(h5::mutex());
  if (zip) return vetted(path, [&] { return open_archive(map); });
  return vetted(path, [&] { return read_hdf5(H5File::open(map), path, {}, false); });
}

}  // namespace paramscope::io
