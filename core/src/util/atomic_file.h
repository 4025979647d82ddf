// Output files are written beside their target under a temporary name and renamed into place
// on commit(), so that a crash or error never leaves a half-written file under the real name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace paramscope {

class AtomicFile {
public:
  /// Creates "<target>.tmp-XXXXXX" beside target. throws Error(Io) if it cannot.
  explicit AtomicFile(std::filesystem::path target);
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// throws Error(Io) if the write fails (disk full).
  void write(std::span<const std::byte> bytes);
  /// Writes at a byte offset of the file (the file grows as needed; gaps read as zeros).
  /// throws Error(Io) if the write fails.
  void write_at(std::uint64_t offset, std::span<const std::byte> bytes);
  /// For libraries that write by name (HDF5): the temporary file's path; close our handle first.
  const std::filesystem::path& temp_path() const noexcept { return temp_; }
  void close_handle();
  /// Flushes, syncs and renames onto the target. throws Error(Io) on failure.
  void commit();

private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace paramscope
