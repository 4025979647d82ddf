// Values of GGML block-quantized tensors, stored as consecutive fixed-size blocks.
#pragma once

#include <cstdint>
#include <memory>

#include "paramscope/dtype.h"
#include "tensor/tensor_source.h"

namespace paramscope::io::gguf {

/// numel elements of a block type (numel a whole number of blocks) at byte offset of file; the
/// caller has checked that the blocks lie inside the file. Q8_0 is dequantized on read; other
/// types only expose their raw bytes (Tensor refuses to read them).
std::shared_ptr<const detail::TensorSource> make_block_source(std::shared_ptr<const MappedFile> file,
                                                              std::uint64_t offset, DType dtype, std::int64_t numel);

}  // namespace paramscope::io::gguf
