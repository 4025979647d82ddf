#include "paramscope/tensor.h"

#include <string>

#include "paramscope/error.h"
#include "tensor/tensor_source.h"

namespace paramscope {

Tensor::Tensor(std::string name, DType dtype, Shape shape, std::shared_ptr<const detail::TensorSource> source,
               TensorRole role)
    : name_(std::move(name)), dtype_(dtype), shape_(std::move(shape)), numel_(paramscope::numel(shape_)), role_(role),
      source_(std::move(source)) {}

std::uint64_t Tensor::nbytes() const noexcept {
  return storage_bytes(dtype_, static_cast<std::uint64_t>(numel_)).value_or(0);
}

const std::string& Tensor::file() const noexcept { return source_->file(); }

void Tensor::read_f32(std::int64_t first, std::span<float> out) const {
  const auto count = static_cast<std::int64_t>(out.size());
  if (first < 0 || first > numel_ || count > numel_ - first)
    throw usage_error("tensor '" + name_ + "': elements [" + std::to_string(first) + ", " +
                      std::to_string(first + count) + ") are outside its " + std::to_string(numel_) + " elements");
  if (!dtype_info(dtype_).readable)
    throw Error(Error::Kind::Unsupported, file() + ": tensor '" + name_ + "' is stored as " +
                                              std::string(dtype_name(dtype_)) +
                                              ", whose values ParamScope cannot decode (readable: plain types and Q8_0)");
  if (count == 0) return;
  source_->read_f32(first, out);
}

std::vector<float> Tensor::to_f32() const {
  std::vector<float> v(static_cast<std::size_t>(numel_));
  read_f32(0, v);
  return v;
}

std::span<const std::byte> Tensor::raw_bytes() const noexcept { return source_->raw_bytes(); }

void Tensor::release(std::int64_t first, std::int64_t count) const noexcept { source_->release(first, count); }

Tensor Tensor::renamed(std::string name) const {
  Tensor t = *this;
  t.name_ = std::move(name);
  return t;
}

Tensor Tensor::with_role(TensorRole role) const {
  Tensor t = *this;
  t.role_ = role;
  return t;
}

}  // namespace paramscope
