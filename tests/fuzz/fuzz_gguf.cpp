// libFuzzer harness for the GGUF reader: any bytes must give a Checkpoint or one paramscope::Error,
// never a crash, hang, leak or out-of-bounds read. Accepted tensors are read too, so the Q8_0
// decoder and the mapped sources see whatever offsets the header validation let through.
//   seed: tests/data/gguf/*.gguf and tests/data/malformed/gguf/*.gguf
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "io/readers.h"
#include "paramscope/error.h"
#include "util/mapped_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(size);
  if (size > 0) std::memcpy(bytes.data(), data, size);
  try {
    const auto c = paramscope::io::parse_gguf(paramscope::MappedFile::from_buffer(std::move(bytes), "fuzz.gguf"));
    std::vector<float> out(64);
    for (const auto& t : c.tensors()) {
      (void)t.raw_bytes();
      if (!paramscope::dtype_info(t.dtype()).readable) continue;
      const auto n = static_cast<std::size_t>(std::min<std::int64_t>(t.numel(), 64));
      t.read_f32(0, std::span(out).first(n));
      t.read_f32(t.numel() - static_cast<std::int64_t>(n), std::span(out).first(n));
    }
  } catch (const paramscope::Error&) {
  }
  return 0;
}
