// Bounds-checked little-endian cursor over untrusted bytes. Every read that would pass the end
// throws Error(BadInput) naming the file, what was being read and where.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace paramscope {

class ByteReader {
public:
  /// base is the absolute file offset of data[0], used in error messages.
  ByteReader(std::span<const std::byte> data, std::filesystem::path file, std::uint64_t base = 0)
      : data_(data), file_(std::move(file)), base_(base) {}

  std::uint64_t pos() const noexcept { return pos_; }
  std::uint64_t offset() const noexcept { return base_ + pos_; }
  std::uint64_t size() const noexcept { return data_.size(); }
  std::uint64_t remaining() const noexcept { return data_.size() - pos_; }
  bool at_end() const noexcept { return pos_ == data_.size(); }
  const std::filesystem::path& file() const noexcept { return file_; }
  std::span<const std::byte> data() const noexcept { return data_; }

  template <class T>
  T read(std::string_view what) {
    static_assert(std::is_arithmetic_v<T>);
    T v;
    std::memcpy(&v, take(sizeof(T), what).data(), sizeof(T));
    if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) v = byteswap(v);
    return v;
  }
  std::span<const std::byte> read_bytes(std::uint64_t n, std::string_view what) { return take(n, what); }
  std::string_view read_string(std::uint64_t n, std::string_view what) {
    auto b = take(n, what);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  void skip(std::uint64_t n, std::string_view what) { take(n, what); }
  /// throws Error(BadInput) if pos is past the end.
  void seek(std::uint64_t pos, std::string_view what);

  /// throws Error(BadInput): "<file>: <what> at offset N".
  [[noreturn]] void fail(std::string_view what) const;

private:
  std::span<const std::byte> take(std::uint64_t n, std::string_view what);
  template <class T>
  static T byteswap(T v) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    std::memcpy(&v, b, sizeof(T));
    return v;
  }

  std::span<const std::byte> data_;
  std::filesystem::path file_;
  std::uint64_t base_;
  std::uint64_t pos_ = 0;
};

}  // namespace paramscope
