#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "io/writers/write_common.h"
#include "util/atomic_file.h"

namespace paramscope {

namespace detail {
std::uint64_t checked_plain_size(const TensorToWrite& t, const std::string& where) {
  if (dtype_info(t.dtype).block_elems != 1)
    throw usage_error(where + ": tensor '" + t.name + "': cannot write block-quantized dtype " +
                      std::string(dtype_name(t.dtype)));
  const auto n = checked_numel(t.shape);
  const auto bytes = n ? storage_bytes(t.dtype, static_cast<std::uint64_t>(*n)) : std::nullopt;
  if (!bytes) throw usage_error(where + ": tensor '" + t.name + "': invalid shape " + shape_string(t.shape));
  return *bytes;
}
}  // namespace detail

namespace {

// Position of a dtype in the reference implementation's Dtype enum ("increasing alignment").
int reference_rank(DType t) {
  switch (t) {
    case DType::BOOL:
      return 0;
    case DType::U8:
      return 1;
    case DType::I8:
      return 2;
    case DType::F8_E5M2:
      return 3;
    case DType::F8_E4M3:
      return 4;
    case DType::I16:
      return 5;
    case DType::U16:
      return 6;
    case DType::F16:
      return 7;
    case DType::BF16:
      return 8;
    case DType::I32:
      return 9;
    case DType::U32:
      return 10;
    case DType::F32:
      return 11;
    case DType::F64:
      return 12;
    case DType::I64:
      return 13;
    case DType::U64:
      return 14;
    default:
      return -1;
  }
}

}  // namespace

void write_text_file(const std::filesystem::path& path, std::string_view text) {
  AtomicFile out(path);
  out.write(std::as_bytes(std::span(text)));
  out.commit();
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& unordered,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  // The reference writer lays tensors out by descending dtype alignment, then name; doing the same
  // makes our files byte-identical to safetensors.torch.save_file's for the same tensors.
  std::vector<const TensorToWrite*> tensors;
  for (const auto& t : unordered) tensors.push_back(&t);
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    const int ra = reference_rank(a->dtype), rb = reference_rank(b->dtype);
    return ra != rb ? ra > rb : a->name < b->name;
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& md = header["__metadata__"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) md[k] = v;
  }
  std::set<std::string> names;
  std::map<const TensorToWrite*, std::pair<std::uint64_t, std::uint64_t>> at;  // data offset, size
  std::uint64_t offset = 0;
  for (const TensorToWrite* tp : tensors) {
    const TensorToWrite& t = *tp;
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      throw usage_error(path.string() + ": tensor name '" + t.name + "' is used twice or reserved");
    const std::uint64_t size = detail::checked_plain_size(t, path.string());
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
    at[tp] = {offset, size};
    offset += size;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned, as the reference writer does

  AtomicFile out(path);
  std::byte len[8];
  std::uint64_t n = text.size();
  for (auto& b : len) {
    b = static_cast<std::byte>(n & 0xFF);
    n >>= 8;
  }
  out.write(len);
  out.write(std::as_bytes(std::span(text)));
  // Filled in the caller's order (a mask's tie budget is spent in that order), each at its place.
  const std::uint64_t data_start = 8 + text.size();
  detail::ChunkPipeline pipeline([&](std::uint64_t pos, std::span<const std::byte> b) { out.write_at(pos, b); });
  for (const TensorToWrite& t : unordered) {
    const auto [first, size] = at[&t];
    pipeline.stream(t, size, data_start + first);
  }
  pipeline.finish();
  out.commit();
}

}  // namespace paramscope
