// Read-only memory mapping of a whole file, shared by the tensors that point into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

namespace paramscope {

class MappedFile {
public:
  /// Maps the file read-only (the input is never changed). A zero-byte file maps to an empty span.
  /// throws Error(Io) if the file cannot be opened or mapped, or is a directory.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  /// Bytes held in memory under a name (tests and fuzzers parse buffers without touching disk).
  static std::shared_ptr<const MappedFile> from_buffer(std::vector<std::byte> data, std::filesystem::path name);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::uint64_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// Drops the pages of [offset, offset + length) from this process's resident set.
  void release(std::uint64_t offset, std::uint64_t length) const noexcept;

private:
  MappedFile() = default;
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
  std::vector<std::byte> buffer_;
};

}  // namespace paramscope
