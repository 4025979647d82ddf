// Read-only view of a zip archive held in a mapped file (the container of torch.save since 1.6
// and of Keras 3 .keras files).
// Only the central directory is parsed; STORED entries are used in place, so tensor storages can
// be memory-mapped rather than extracted (which libzip cannot offer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace paramscope {
class MappedFile;
}

namespace paramscope::io {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;  // 0 stored, 8 deflate
  std::uint16_t flags = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;         // uncompressed
  std::uint64_t data_offset = 0;  // of the (compressed) bytes, after the local header
};

class ZipArchive {
public:
  /// Parses the end records and the central directory and checks every local header.
  /// throws Error(BadInput) naming the file if any offset, size or name does not hold up,
  /// Error(Unsupported) for split archives.
  explicit ZipArchive(std::shared_ptr<const MappedFile> file);

  const std::vector<ZipEntry>& entries() const noexcept { return entries_; }
  const ZipEntry* find(std::string_view name) const;
  bool zip64() const noexcept { return zip64_; }
  const std::shared_ptr<const MappedFile>& file() const noexcept { return file_; }

  /// The bytes of a STORED entry, in place. verify_crc: check its CRC-32 (reads every byte, so
  /// only for small entries). throws Error(Unsupported) if it is compressed or encrypted,
  /// Error(BadInput) if the CRC-32 does not match.
  std::span<const std::byte> stored_bytes(const ZipEntry& e, bool verify_crc = false) const;
  /// The entry's bytes in memory (inflated if DEFLATEd), CRC-32 checked; at most max_size bytes.
  /// throws Error(BadInput) on corrupt data, Error(Unsupported) for other methods or encryption.
  std::vector<std::byte> read(const ZipEntry& e, std::uint64_t max_size) const;

private:
  void check_readable(const ZipEntry& e) const;

  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, std::size_t> by_name_;
  bool zip64_ = false;
};

}  // namespace paramscope::io
