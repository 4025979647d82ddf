#include "tensor/tensor_source.h"

#include <algorithm>
#include <string>

#include "paramscope/error.h"
#include "tensor/convert.h"
#include "util/mapped_file.h"

namespace paramscope::detail {
namespace {

class MappedSource final : public TensorSource {
public:
  MappedSource(std::shared_ptr<const MappedFile> file, std::uint64_t offset, DType dtype, std::int64_t numel,
               bool big_endian)
      : TensorSource(file->path().string()), file_(std::move(file)), offset_(offset), dtype_(dtype),
        elem_(dtype_info(dtype).block_bytes), numel_(numel), swap_(big_endian) {}

  void read_f32(std::int64_t first, std::span<float> out) const override {
    const std::byte* p = file_->bytes().data() + offset_ + static_cast<std::uint64_t>(first) * elem_;
    convert_to_f32(dtype_, p, out.size(), out.data(), swap_ && elem_ > 1);
  }
  std::span<const std::byte> raw_bytes() const noexcept override {
    if (swap_ && elem_ > 1) return {};
    return file_->bytes().subspan(offset_, static_cast<std::uint64_t>(numel_) * elem_);
  }
  void release(std::int64_t first, std::int64_t count) const noexcept override {
    file_->release(offset_ + static_cast<std::uint64_t>(first) * elem_, static_cast<std::uint64_t>(count) * elem_);
  }

private:
  std::shared_ptr<const MappedFile> file_;
  std::uint64_t offset_;
  DType dtype_;
  std::uint32_t elem_;
  std::int64_t numel_;
  bool swap_;
};

class StridedSource final : public TensorSource {
public:
  StridedSource(std::shared_ptr<const MappedFile> file, std::uint64_t offset, DType dtype, Shape shape,
                std::vector<std::int64_t> strides, std::int64_t storage_offset, bool big_endian)
      : TensorSource(file->path().string()), file_(std::move(file)), offset_(offset), dtype_(dtype),
        elem_(dtype_info(dtype).block_bytes), shape_(std::move(shape)), strides_(std::move(strides)),
        storage_offset_(storage_offset), swap_(big_endian && elem_ > 1) {}

  void read_f32(std::int64_t first, std::span<float> out) const override {
    const std::size_t rank = shape_.size();
    std::vector<std::int64_t> idx(rank, 0);
    std::int64_t rest = first;
    for (std::size_t d = rank; d-- > 0;) {
      idx[d] = shape_[d] ? rest % shape_[d] : 0;
      rest = shape_[d] ? rest / shape_[d] : 0;
    }
    const std::byte* base = file_->bytes().data() + offset_;
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::int64_t e = storage_offset_;
      for (std::size_t d = 0; d < rank; ++d) e += idx[d] * strides_[d];
      convert_to_f32(dtype_, base + static_cast<std::uint64_t>(e) * elem_, 1, &out[i], swap_);
      for (std::size_t d = rank; d-- > 0;) {
        if (++idx[d] < shape_[d]) break;
        idx[d] = 0;
      }
    }
  }

private:
  std::shared_ptr<const MappedFile> file_;
  std::uint64_t offset_;
  DType dtype_;
  std::uint32_t elem_;
  Shape shape_;
  std::vector<std::int64_t> strides_;
  std::int64_t storage_offset_;
  bool swap_;
};

class OwnedSource final : public TensorSource {
public:
  OwnedSource(std::vector<std::byte> bytes, DType dtype, std::string file)
      : TensorSource(std::move(file)), bytes_(std::move(bytes)), dtype_(dtype), elem_(dtype_info(dtype).block_bytes) {}
  void read_f32(std::int64_t first, std::span<float> out) const override {
    convert_to_f32(dtype_, bytes_.data() + static_cast<std::uint64_t>(first) * elem_, out.size(), out.data());
  }
  std::span<const std::byte> raw_bytes() const noexcept override { return bytes_; }

private:
  std::vector<std::byte> bytes_;
  DType dtype_;
  std::uint32_t elem_;
};

}  // namespace

std::shared_ptr<const TensorSource> make_mapped_source(std::shared_ptr<const MappedFile> file, std::uint64_t offset,
                                                       DType dtype, std::int64_t numel, bool big_endian) {
  return std::make_shared<MappedSource>(std::move(file), offset, dtype, numel, big_endian);
}

std::shared_ptr<const TensorSource> make_strided_source(std::shared_ptr<const MappedFile> file, std::uint64_t offset,
                                                        std::int64_t storage_numel, DType dtype, const Shape& shape,
                                                        const std::vector<std::int64_t>& strides,
                                                        std::int64_t storage_offset, bool big_endian) {
  if (strides.size() != shape.size())
    throw bad_input(file->path(), "tensor has " + std::to_string(shape.size()) + " dimensions but " +
                                      std::to_string(strides.size()) + " strides");
  const auto n = checked_numel(shape);
  if (!n) throw bad_input(file->path(), "invalid tensor shape " + shape_string(shape));
  if (storage_offset < 0) throw bad_input(file->path(), "negative storage offset");
  if (*n == 0) return make_mapped_source(std::move(file), offset, dtype, 0, big_endian);
  // The furthest element a view can touch must lie inside its storage.
  std::int64_t last = storage_offset;
  bool contiguous = true;
  std::int64_t expect = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (strides[d] < 0) throw bad_input(file->path(), "negative stride");
    if (shape[d] > 1 && strides[d] != expect) contiguous = false;
    expect *= std::max<std::int64_t>(shape[d], 1);
    std::int64_t reach = 0;
    if (*n > 0 && (__builtin_mul_overflow(shape[d] - 1, strides[d], &reach) || __builtin_add_overflow(last, reach, &last)))
      throw bad_input(file->path(), "tensor strides overflow");
  }
  if (*n > 0 && last >= storage_numel)
    throw bad_input(file->path(), "tensor view " + shape_string(shape) + " at storage offset " +
                                      std::to_string(storage_offset) + " reaches element " + std::to_string(last) +
                                      " of a storage holding " + std::to_string(storage_numel));
  const std::uint64_t elem = dtype_info(dtype).block_bytes;
  if (contiguous)
    return make_mapped_source(std::move(file), offset + static_cast<std::uint64_t>(storage_offset) * elem, dtype, *n,
                              big_endian);
  return std::make_shared<StridedSource>(std::move(file), offset, dtype, shape, strides, storage_offset, big_endian);
}

std::shared_ptr<const TensorSource> make_owned_source(std::vector<std::byte> bytes, DType dtype, std::string file) {
  return std::make_shared<OwnedSource>(std::move(bytes), dtype, std::move(file));
}

}  // namespace paramscope::detail
