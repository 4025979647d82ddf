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

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& md = header["__metadata__"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) md[k] = v;
  }
  std::set<std::string> names;
  std::vector<std::uint64_t> sizes;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      throw usage_error(path.string() + ": tensor name '" + t.name + "' is used twice or reserved");
    const std::uint64_t size = detail::checked_plain_size(t, path.string());
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
    sizes.push_back(size);
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
  for (std::size_t i = 0; i < tensors.size(); ++i)
    detail::stream_bytes(tensors[i], sizes[i], [&](std::uint64_t, std::span<const std::byte> b) { out.write(b); });
  out.commit();
}

}  // namespace paramscope
