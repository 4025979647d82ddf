// libFuzzer harness for the PyTorch reader (zip container, restricted unpickler, torch object
// interpretation, legacy storages): any bytes must give a Checkpoint or one paramscope::Error,
// never a crash, hang, leak or out-of-bounds read. Accepted tensors are read at both ends, so the
// strided and mapped sources see whatever views and offsets validation let through.
//   seed: tests/data/pytorch/*.pt, tests/data/pytorch/sharded/*.bin, tests/data/malformed/pytorch/*.pt
//   dictionary: tests/fuzz/pickle.dict
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "io/readers.h"
#include "paramscope/error.h"
#include "util/mapped_file.h"

namespace {

void read_ends(const paramscope::Tensor& t) {
  std::vector<float> out(64);
  (void)t.raw_bytes();
  if (!paramscope::dtype_info(t.dtype()).readable || t.numel() == 0) return;
  const auto n = static_cast<std::size_t>(std::min<std::int64_t>(t.numel(), 64));
  t.read_f32(0, std::span(out).first(n));
  t.read_f32(t.numel() - static_cast<std::int64_t>(n), std::span(out).first(n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(size);
  if (size > 0) std::memcpy(bytes.data(), data, size);
  try {
    const auto c = paramscope::io::parse_pytorch(paramscope::MappedFile::from_buffer(std::move(bytes), "fuzz.pt"));
    for (const auto& t : c.tensors()) read_ends(t);
    for (const auto& t : c.optimizer_tensors()) read_ends(t);
  } catch (const paramscope::Error&) {
  }
  return 0;
}
