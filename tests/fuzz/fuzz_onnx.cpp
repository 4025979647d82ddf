// libFuzzer harness for the ONNX reader: any bytes must give a Checkpoint or one paramscope::Error.
// The buffer is named inside a folder that does not exist, so external data locations can never
// reach real files; accepted tensors are read to exercise the typed-field decoders.
//   seed: tests/data/onnx/*.onnx and tests/data/malformed/onnx/*.onnx
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
    const auto c = paramscope::io::parse_onnx(
        paramscope::MappedFile::from_buffer(std::move(bytes), "/nonexistent-paramscope-fuzz/fuzz.onnx"));
    std::vector<float> out(64);
    for (const auto& t : c.tensors()) {
      (void)t.raw_bytes();
      const auto n = static_cast<std::size_t>(std::min<std::int64_t>(t.numel(), 64));
      t.read_f32(0, std::span(out).first(n));
      t.read_f32(t.numel() - static_cast<std::int64_t>(n), std::span(out).first(n));
    }
  } catch (const paramscope::Error&) {
  }
  return 0;
}
