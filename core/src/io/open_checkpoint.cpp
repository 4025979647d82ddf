// Recognises a checkpoint's format from its content (and, for folders, from the files inside).
#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "io/readers.h"
#include "paramscope/checkpoint.h"
#include "paramscope/error.h"

namespace paramscope {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<fs::path> files_in(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && ends_with(e.path().filename().string(), suffix)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// A Hugging Face model folder (or any folder holding one checkpoint): weights files in the
// order HF's from_pretrained looks for them.
Checkpoint open_folder(const fs::path& dir) {
  if (auto idx = files_in(dir, ".safetensors.index.json"); !idx.empty()) return io::open_safetensors(dir);
  if (!files_in(dir, ".safetensors").empty()) return io::open_safetensors(dir);
  if (auto idx = files_in(dir, ".bin.index.json"); !idx.empty()) return io::open_pytorch(idx.front());
  for (const char* name : {"pytorch_model.bin", "model.pt", "model.pth"})
    if (fs::is_regular_file(dir / name)) return io::open_pytorch(dir / name);
  for (const char* suffix : {".gguf", ".onnx", ".keras", ".weights.h5", ".h5"})
    if (auto f = files_in(dir, suffix); f.size() == 1) return open_checkpoint(f.front());
  throw bad_input(dir, "folder holds no checkpoint (looked for *.safetensors, *.safetensors.index.json, "
                       "pytorch_model.bin(.index.json), and a single *.gguf, *.onnx, *.keras or *.h5)");
}

}  // namespace

Checkpoint open_checkpoint(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw io_error(path, "no such file or folder");
  if (fs::is_directory(status)) return open_folder(path);

  std::array<unsigned char, 16> head{};
  std::size_t got = 0;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(path, "cannot open for reading");
    in.read(reinterpret_cast<char*>(head.data()), head.size());
    got = static_cast<std::size_t>(in.gcount());
  }
  if (got == 0) throw bad_input(path, "empty file (0 bytes), not a checkpoint");

  const std::string name = path.filename().string();
  auto starts = [&](const char* magic, std::size_t n) { return got >= n && std::memcmp(head.data(), magic, n) == 0; };

  if (starts("GGUF", 4)) return io::open_gguf(path);
  if (starts("\x89HDF\r\n\x1a\n", 8)) return io::open_keras(path);
  if (starts("PK\x03\x04", 4) && ends_with(name, ".keras")) return io::open_keras(path);  // Keras 3 archive
  if (starts("PK\x03\x04", 4) || starts("PK\x05\x06", 4)) return io::open_pytorch(path);
  // safetensors: 8-byte little-endian header size, then a JSON object. Checked before the pickle
  // opcode, since a header size can start with byte 0x80 (a legacy torch file's byte 8 is part
  // of its magic number, never '{').
  if (got >= 9 && head[8] == '{' && !ends_with(name, ".index.json")) return io::open_safetensors(path);
  if (head[0] == 0x80) return io::open_pytorch(path);  // pickle PROTO opcode: legacy torch.save
  if (ends_with(name, ".index.json")) {
    return ends_with(name, ".safetensors.index.json") ? io::open_safetensors(path) : io::open_pytorch(path);
  }
  if (ends_with(name, ".safetensors")) return io::open_safetensors(path);
  if (ends_with(name, ".onnx")) return io::open_onnx(path);
  if (ends_with(name, ".h5") || ends_with(name, ".hdf5") || ends_with(name, ".keras"))
    return io::open_keras(path);
  if (ends_with(name, ".gguf")) return io::open_gguf(path);
  if (ends_with(name, ".pt") || ends_with(name, ".pth") || ends_with(name, ".bin") || ends_with(name, ".ckpt"))
    return io::open_pytorch(path);
  // ONNX files start with a protobuf tag: field 1 (ir_version, varint) is 0x08.
  if (head[0] == 0x08) return io::open_onnx(path);
  throw unsupported(path, "not a recognised checkpoint (safetensors, PyTorch, Keras HDF5, ONNX or GGUF)");
}

}  // namespace paramscope
