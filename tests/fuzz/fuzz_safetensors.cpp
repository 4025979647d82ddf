// libFuzzer harness for the safetensors header parser: any bytes must give a Checkpoint or a
// paramscope::Error, never a crash, hang or out-of-bounds read. Reading values checks that the
// offsets the parser accepted really lie inside the buffer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/readers.h"
#include "paramscope/error.h"
#include "util/mapped_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data), reinterpret_cast<const std::byte*>(data) + size);
  try {
    const auto c = paramscope::io::parse_safetensors(paramscope::MappedFile::from_buffer(std::move(bytes), "fuzz.safetensors"));
    std::vector<float> buf(64);
    for (const auto& t : c.tensors()) {
      const auto n = std::min<std::int64_t>(t.numel(), 64);
      t.read_f32(0, std::span<float>(buf.data(), static_cast<std::size_t>(n)));
      if (t.numel() > 64) t.read_f32(t.numel() - 64, buf);
    }
  } catch (const paramscope::Error&) {
  }
  return 0;
}
