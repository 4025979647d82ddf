#include "io/gguf/block_source.h"

#include <algorithm>
#include <string>

#include "paramscope/error.h"
#include "tensor/convert.h"
#include "util/mapped_file.h"

namespace paramscope::io::gguf {
namespace {

class BlockSource final : public detail::TensorSource {
public:
  BlockSource(std::shared_ptr<const MappedFile> file, std::uint64_t offset, DType dtype, std::int64_t numel)
      : TensorSource(file->path().string()), file_(std::move(file)), offset_(offset), dtype_(dtype),
        block_elems_(dtype_info(dtype).block_elems), block_bytes_(dtype_info(dtype).block_bytes),
        blocks_(static_cast<std::uint64_t>(numel) / block_elems_) {}

  void read_f32(std::int64_t first, std::span<float> out) const override {
    if (dtype_ != DType::Q8_0)
      throw unsupported(file(), "cannot decode " + std::string(dtype_name(dtype_)) + " values");
    read_q8_0(static_cast<std::uint64_t>(first), out);
  }

  std::span<const std::byte> raw_bytes() const noexcept override {
    return file_->bytes().subspan(offset_, blocks_ * block_bytes_);
  }

  void release(std::int64_t first, std::int64_t count) const noexcept override {
    const auto b0 = static_cast<std::uint64_t>(first) / block_elems_;
    const auto b1 = (static_cast<std::uint64_t>(first + count) + block_elems_ - 1) / block_elems_;
    file_->release(offset_ + b0 * block_bytes_, (b1 - b0) * block_bytes_);
  }

private:
  // ggml's dequantize_row_q8_0: a block is an fp16 scale d then 32 int8 q; value = q * d in float.
  void read_q8_0(std::uint64_t first, std::span<float> out) const {
    const std::byte* base = file_->bytes().data() + offset_;
    std::size_t done = 0;
    while (done < out.size()) {
      const std::uint64_t e = first + done;
      const std::uint64_t block = e / block_elems_;
      const std::uint64_t within = e % block_elems_;
      const std::byte* b = base + block * block_bytes_;
      const auto d_bits = static_cast<std::uint16_t>(static_cast<unsigned>(b[0]) | (static_cast<unsigned>(b[1]) << 8));
      const float d = f16_to_f32(d_bits);
      const std::size_t n = std::min<std::size_t>(out.size() - done, block_elems_ - within);
      for (std::size_t i = 0; i < n; ++i) {
        const auto q = static_cast<std::int8_t>(static_cast<std::uint8_t>(b[2 + within + i]));
        out[done + i] = static_cast<float>(q) * d;
      }
      done += n;
    }
  }

  std::shared_ptr<const MappedFile> file_;
  std::uint64_t offset_;
  DType dtype_;
  std::uint64_t block_elems_;
  std::uint64_t block_bytes_;
  std::uint64_t blocks_;
};

}  // namespace

std::shared_ptr<const detail::TensorSource> make_block_source(std::shared_ptr<const MappedFile> file,
                                                              std::uint64_t offset, DType dtype, std::int64_t numel) {
  return std::make_shared<BlockSource>(std::move(file), offset, dtype, numel);
}

}  // namespace paramscope::io::gguf
