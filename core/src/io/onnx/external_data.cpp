#include "io/onnx/external_data.h"

#include <charconv>
#include <optional>

#include "paramscope/error.h"
#include "util/mapped_file.h"

namespace paramscope::io::onnx {
namespace fs = std::filesystem;

namespace {

std::optional<std::uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

ExternalFiles::ExternalFiles(fs::path model) : model_(std::move(model)), dir_(model_.parent_path()) {
  if (dir_.empty()) dir_ = ".";
}

std::shared_ptr<const MappedFile> ExternalFiles::map(const std::string& context, const std::string& location) {
  auto bad = [&](const std::string& what) { return bad_input(model_, context + ": external data location '" + location + "' " + what); };
  if (location.empty()) throw bad_input(model_, context + ": external data has no location");
  if (location.find('\0') != std::string::npos) throw bad("contains a NUL byte");
  const fs::path loc(location);
  // ONNX resolves locations against the model's folder; refuse anything that would read elsewhere.
  if (loc.is_absolute() || location.front() == '/' || location.front() == '\\')
    throw bad("is an absolute path; external data must be relative to the model's folder");
  const fs::path norm = loc.lexically_normal();
  if (norm.empty() || norm == "." || *norm.begin() == "..")
    throw bad("leaves the model's folder");
  const std::string key = norm.generic_string();
  if (auto it = mapped_.find(key); it != mapped_.end()) return it->second;

  // Symlinks are followed: Hugging Face caches link model files to blobs outside the folder.
  const fs::path p = dir_ / norm;
  std::error_code ec;
  const auto st = fs::status(p, ec);
  if (!fs::exists(st))
    throw io_error(model_, context + ": external data file '" + location + "' does not exist (looked for " + p.string() + ")");
  // Opening a FIFO or device would block or read something that is not data.
  if (!fs::is_regular_file(st)) throw bad("is not a regular file");
  std::shared_ptr<const MappedFile> f;
  try {
    f = MappedFile::open(p);
  } catch (const Error& e) {
    throw Error(e.kind(), model_.string() + ": " + context + ": cannot open external data file: " + e.what());
  }
  mapped_.emplace(key, f);
  order_.push_back(p);
  return f;
}

std::shared_ptr<const detail::TensorSource> ExternalFiles::source(
    const std::string& context, const std::vector<std::pair<std::string, std::string>>& entries, DType dtype,
    std::int64_t numel, std::uint64_t nbytes) {
  auto bad = [&](const std::string& what) { return bad_input(model_, context + ": " + what); };
  const std::string* location = nullptr;
  const std::string* offset_text = nullptr;
  const std::string* length_text = nullptr;
  for (const auto& [k, v] : entries) {
    const std::string** slot = k == "location" ? &location : k == "offset" ? &offset_text : k == "length" ? &length_text : nullptr;
    if (!slot) continue;  // "checksum" and keys of later ONNX versions
    if (*slot) throw bad("external_data has the key '" + k + "' twice");
    *slot = &v;
  }
  if (!location) throw bad("data_location is EXTERNAL but external_data has no 'location'");
  std::uint64_t offset = 0;
  if (offset_text) {
    const auto o = parse_u64(*offset_text);
    if (!o) throw bad("external data offset '" + *offset_text + "' is not a non-negative integer");
    offset = *o;
  }
  std::uint64_t length = nbytes;
  if (length_text) {
    const auto l = parse_u64(*length_text);
    if (!l) throw bad("external data length '" + *length_text + "' is not a non-negative integer");
    if (*l != nbytes)
      throw bad("external data length " + *length_text + " does not match its dtype and shape (" +
                std::to_string(nbytes) + " bytes)");
    length = *l;
  }
  auto file = map(context, *location);
  if (offset > file->size() || length > file->size() - offset)
    throw bad("external data [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " + std::to_string(length) +
              ") reaches past the end of '" + *location + "' (" + std::to_string(file->size()) + " bytes)");
  return detail::make_mapped_source(std::move(file), offset, dtype, numel);
}

}  // namespace paramscope::io::onnx
