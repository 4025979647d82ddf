// Zip layout after PKWARE's APPNOTE.TXT (6.3.x): local headers and data, the central directory,
// an optional ZIP64 end record and locator, then the end-of-central-directory record, which may be
// followed by a comment of at most 65535 bytes.
#include "io/zip_archive.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "util/printable.h"
#include "paramscope/error.h"
#include "util/byte_reader.h"
#include "util/mapped_file.h"

namespace paramscope::io {
namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kLocator64Sig = 0x07064b50;
constexpr std::uint64_t kEndSize = 22;
constexpr std::uint64_t kLocatorSize = 20;
constexpr std::uint64_t kEnd64Size = 56;
constexpr std::uint64_t kCentralSize = 46;
constexpr std::uint64_t kLocalSize = 30;
constexpr std::uint32_t kMax32 = 0xffffffffu;
constexpr std::uint16_t kMax16 = 0xffffu;
// deflate cannot expand data by more than about 1032:1; a bigger claimed size is a lie.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

std::uint32_t u32_at(std::span<const std::byte> b, std::uint64_t pos) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(b[pos + static_cast<std::uint64_t>(i)]);
  return v;
}

// zlib's crc32 takes a uInt length: checksum in chunks.
std::uint32_t crc32_of(std::span<const std::byte> b) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::uint64_t pos = 0; pos < b.size();) {
    const auto n = std::min<std::uint64_t>(1u << 30, b.size() - pos);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(b.data() + pos), static_cast<uInt>(n));
    pos += n;
  }
  return static_cast<std::uint32_t>(crc);
}


struct EndRecord {
  std::uint64_t entries = 0;
  std::uint64_t cd_size = 0;
  std::uint64_t cd_offset = 0;
  std::uint64_t cd_limit = 0;  // where the central directory must end (the first end record)
  bool zip64 = false;
};

EndRecord read_end_records(const MappedFile& file) {
  const auto bytes = file.bytes();
  const auto& path = file.path();
  const std::uint64_t size = bytes.size();
  if (size < kEndSize)
    throw bad_input(path, "truncated: " + std::to_string(size) + " bytes is too small for a zip archive");

  // The end record is the last 22 bytes unless a comment follows it: search back at most 64 KiB.
  const std::uint64_t lowest = size - kEndSize > kMax16 ? size - kEndSize - kMax16 : 0;
  std::uint64_t pos = size - kEndSize;
  bool found = false;
  for (;; --pos) {
    if (u32_at(bytes, pos) == kEndSig) {
      const std::uint64_t comment = static_cast<std::uint8_t>(bytes[pos + 20]) |
                                    (static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes[pos + 21])) << 8);
      if (pos + kEndSize + comment <= size) {
        found = true;
        break;
      }
    }
    if (pos == lowest) break;
  }
  if (!found)
    throw bad_input(path, "no zip end-of-central-directory record in the last 64 KiB (truncated or not a zip archive)");

  ByteReader r(bytes.subspan(pos, kEndSize), path, pos);
  r.skip(4, "end record signature");
  const auto disk = r.read<std::uint16_t>("end record disk number");
  const auto cd_disk = r.read<std::uint16_t>("end record central directory disk");
  const auto disk_entries = r.read<std::uint16_t>("end record entry count");
  const auto entries = r.read<std::uint16_t>("end record entry count");
  const auto cd_size = r.read<std::uint32_t>("end record central directory size");
  const auto cd_offset = r.read<std::uint32_t>("end record central directory offset");
  EndRecord end{entries, cd_size, cd_offset, pos, false};

  if (pos >= kLocatorSize && u32_at(bytes, pos - kLocatorSize) == kLocator64Sig) {
    const std::uint64_t loc = pos - kLocatorSize;
    ByteReader l(bytes.subspan(loc, kLocatorSize), path, loc);
    l.skip(4, "ZIP64 locator signature");
    const auto end64_disk = l.read<std::uint32_t>("ZIP64 locator disk");
    const auto end64_offset = l.read<std::uint64_t>("ZIP64 end record offset");
    const auto disks = l.read<std::uint32_t>("ZIP64 locator disk count");
    if (end64_disk != 0 || disks > 1) throw unsupported(path, "split (multi-disk) zip archives are not supported");
    if (end64_offset > loc || loc - end64_offset < kEnd64Size)
      throw bad_input(path, "ZIP64 end record offset " + std::to_string(end64_offset) +
                                " does not leave room for the record before its locator at " + std::to_string(loc));
    ByteReader e(bytes.subspan(end64_offset, loc - end64_offset), path, end64_offset);
    if (e.read<std::uint32_t>("ZIP64 end record signature") != kEnd64Sig)
      throw bad_input(path, "no ZIP64 end record at offset " + std::to_string(end64_offset) + ", where the locator points");
    const auto record_size = e.read<std::uint64_t>("ZIP64 end record size");
    if (record_size < kEnd64Size - 12 || record_size > loc - end64_offset - 12)
      throw bad_input(path, "ZIP64 end record size " + std::to_string(record_size) + " is invalid");
    e.skip(4, "ZIP64 end record versions");
    const auto disk64 = e.read<std::uint32_t>("ZIP64 end record disk");
    const auto cd_disk64 = e.read<std::uint32_t>("ZIP64 end record central directory disk");
    const auto disk_entries64 = e.read<std::uint64_t>("ZIP64 end record entry count");
    end.entries = e.read<std::uint64_t>("ZIP64 end record entry count");
    end.cd_size = e.read<std::uint64_t>("ZIP64 end record central directory size");
    end.cd_offset = e.read<std::uint64_t>("ZIP64 end record central directory offset");
    end.cd_limit = end64_offset;
    end.zip64 = true;
    if (disk64 != 0 || cd_disk64 != 0 || disk_entries64 != end.entries)
      throw unsupported(path, "split (multi-disk) zip archives are not supported");
  } else if (disk != 0 || cd_disk != 0 || disk_entries != entries) {
    throw unsupported(path, "split (multi-disk) zip archives are not supported");
  }

  if (end.cd_offset > end.cd_limit || end.cd_size > end.cd_limit - end.cd_offset)
    throw bad_input(path, "central directory [" + std::to_string(end.cd_offset) + ", +" + std::to_string(end.cd_size) +
                              ") reaches past its end record at offset " + std::to_string(end.cd_limit) +
                              " (truncated or corrupt zip archive)");
  if (end.entries > end.cd_size / kCentralSize)
    throw bad_input(path, "end record claims " + std::to_string(end.entries) + " entries, but the " +
                              std::to_string(end.cd_size) + "-byte central directory holds at most " +
                              std::to_string(end.cd_size / kCentralSize));
  return end;
}

// ZIP64 extended information (extra field 0x0001): the 64-bit values of exactly those fields whose
// 32-bit slots hold 0xFFFFFFFF, in the order size, compressed size, local header offset.
void apply_zip64_extra(std::span<const std::byte> extra, ZipEntry& e, std::uint64_t& local_offset, bool need_size,
                       bool need_csize, bool need_offset, const std::filesystem::path& path, std::uint64_t base) {
  ByteReader r(extra, path, base);
  bool seen = false;
  while (r.remaining() >= 4) {
    const auto id = r.read<std::uint16_t>("extra field id");
    const auto len = r.read<std::uint16_t>("extra field size");
    if (len > r.remaining())
      throw bad_input(path, fmt::format("entry '{}': extra field {:#06x} of {} bytes runs past its extra block", printable(e.name),
                                        id, len));
    ByteReader f(r.read_bytes(len, "extra field"), path, r.offset() - len);
    if (id != 0x0001 || seen) continue;
    seen = true;
    auto next = [&](const char* what) {
      if (f.remaining() < 8)
        throw bad_input(path, "entry " + in_quotes(e.name) + ": ZIP64 extra field lacks the " + what);
      return f.read<std::uint64_t>(what);
    };
    if (need_size) e.size = next("uncompressed size");
    if (need_csize) e.compressed_size = next("compressed size");
    if (need_offset) local_offset = next("local header offset");
  }
  if (!seen && (need_size || need_csize || need_offset))
    throw bad_input(path, "entry " + in_quotes(e.name) + ": sizes or offset are 0xFFFFFFFF but there is no ZIP64 extra field");
}

}  // namespace

ZipArchive::ZipArchive(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  const auto& path = file_->path();
  const auto bytes = file_->bytes();
  const EndRecord end = read_end_records(*file_);
  zip64_ = end.zip64;

  ByteReader r(bytes.subspan(end.cd_offset, end.cd_size), path, end.cd_offset);
  entries_.reserve(end.entries);
  for (std::uint64_t i = 0; i < end.entries; ++i) {
    const std::uint64_t at = r.offset();
    if (r.read<std::uint32_t>("central directory signature") != kCentralSig)
      throw bad_input(path, "central directory entry " + std::to_string(i) + " at offset " + std::to_string(at) +
                                " has no PK\\1\\2 signature");
    ZipEntry e;
    r.skip(4, "central directory versions");
    e.flags = r.read<std::uint16_t>("central directory flags");
    e.method = r.read<std::uint16_t>("central directory method");
    r.skip(4, "central directory time");
    e.crc32 = r.read<std::uint32_t>("central directory CRC-32");
    e.compressed_size = r.read<std::uint32_t>("central directory compressed size");
    e.size = r.read<std::uint32_t>("central directory size");
    const auto name_len = r.read<std::uint16_t>("central directory name length");
    const auto extra_len = r.read<std::uint16_t>("central directory extra length");
    const auto comment_len = r.read<std::uint16_t>("central directory comment length");
    const auto disk = r.read<std::uint16_t>("central directory disk");
    r.skip(6, "central directory attributes");
    std::uint64_t local = r.read<std::uint32_t>("central directory local header offset");
    e.name = std::string(r.read_string(name_len, "entry name"));
    const std::uint64_t extra_at = r.offset();
    const auto extra = r.read_bytes(extra_len, "entry extra field");
    r.skip(comment_len, "entry comment");
    if (disk != 0 && disk != kMax16) throw unsupported(path, "split (multi-disk) zip archives are not supported");
    apply_zip64_extra(extra, e, local, e.size == kMax32, e.compressed_size == kMax32, local == kMax32, path, extra_at);

    if (local > end.cd_offset || end.cd_offset - local < kLocalSize)
      throw bad_input(path, "entry " + in_quotes(e.name) + ": local header offset " + std::to_string(local) +
                                " is not before the central directory at " + std::to_string(end.cd_offset));
    ByteReader h(bytes.subspan(local, end.cd_offset - local), path, local);
    if (h.read<std::uint32_t>("local header signature") != kLocalSig)
      throw bad_input(path, "entry " + in_quotes(e.name) + ": no local header (PK\\3\\4) at offset " + std::to_string(local));
    h.skip(22, "local header fields");
    const auto lname_len = h.read<std::uint16_t>("local header name length");
    const auto lextra_len = h.read<std::uint16_t>("local header extra length");
    if (h.read_string(lname_len, "local header name") != e.name)
      throw bad_input(path, "entry " + in_quotes(e.name) + ": its local header names another file");
    h.skip(lextra_len, "local header extra field");
    e.data_offset = h.offset();
    if (e.compressed_size > end.cd_offset - e.data_offset)
      throw bad_input(path, "entry " + in_quotes(e.name) + ": " + std::to_string(e.compressed_size) + " bytes at offset " +
                                std::to_string(e.data_offset) + " run past the start of the central directory at " +
                                std::to_string(end.cd_offset));
    if (e.method == 0 && e.size != e.compressed_size)
      throw bad_input(path, "entry " + in_quotes(e.name) + ": stored entry has size " + std::to_string(e.size) +
                                " but compressed size " + std::to_string(e.compressed_size));
    entries_.push_back(std::move(e));
  }
  by_name_.reserve(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (!by_name_.emplace(entries_[i].name, i).second)
      throw bad_input(path, "zip entry " + in_quotes(entries_[i].name) + " appears twice");
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

void ZipArchive::check_readable(const ZipEntry& e) const {
  if (e.flags & 1u) throw unsupported(file_->path(), "zip entry " + in_quotes(e.name) + " is encrypted");
  if (e.method != 0 && e.method != 8)
    throw unsupported(file_->path(), "zip entry " + in_quotes(e.name) + " uses compression method " +
                                         std::to_string(e.method) + " (only stored and deflate are read)");
}

std::span<const std::byte> ZipArchive::stored_bytes(const ZipEntry& e, bool verify_crc) const {
  check_readable(e);
  if (e.method != 0) throw unsupported(file_->path(), "zip entry " + in_quotes(e.name) + " is compressed");
  const auto bytes = file_->bytes().subspan(e.data_offset, e.size);
  if (verify_crc && crc32_of(bytes) != e.crc32)
    throw bad_input(file_->path(), "zip entry " + in_quotes(e.name) + " fails its CRC-32 check (corrupt archive)");
  return bytes;
}

std::vector<std::byte> ZipArchive::read(const ZipEntry& e, std::uint64_t max_size) const {
  const auto& path = file_->path();
  check_readable(e);
  if (e.size > max_size)
    throw unsupported(path, "zip entry " + in_quotes(e.name) + " holds " + std::to_string(e.size) +
                                " bytes, more than the " + std::to_string(max_size) + " read into memory");
  const auto in = file_->bytes().subspan(e.data_offset, e.compressed_size);
  std::vector<std::byte> out;
  if (e.method == 0) {
    out.assign(in.begin(), in.end());
  } else {
    if (e.size / kMaxDeflateRatio > e.compressed_size + 1)
      throw bad_input(path, "zip entry " + in_quotes(e.name) + " claims " + std::to_string(e.size) + " bytes from " +
                                std::to_string(e.compressed_size) + " deflated bytes, more than deflate can produce");
    out.resize(e.size);
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw io_error(path, "zlib: cannot initialise inflate");
    // zlib counts in uInt: feed and drain in chunks so entries over 4 GiB work too. Once the
    // declared size is filled, a 1-byte spare buffer catches streams that would produce more.
    constexpr std::uint64_t kChunk = 1u << 30;
    std::uint64_t in_pos = 0, out_pos = 0;
    std::byte spare[1];
    bool overflow = false;
    int rc = Z_OK;
    while (rc == Z_OK) {
      if (z.avail_in == 0 && in_pos < in.size()) {
        const auto n = std::min<std::uint64_t>(kChunk, in.size() - in_pos);
        // zlib's API takes non-const input but does not write to it.
        z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data() + in_pos));
        z.avail_in = static_cast<uInt>(n);
        in_pos += n;
      }
      if (z.avail_out == 0) {
        if (out_pos < out.size()) {
          const auto n = std::min<std::uint64_t>(kChunk, out.size() - out_pos);
          z.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
          z.avail_out = static_cast<uInt>(n);
          out_pos += n;
        } else if (!overflow) {
          z.next_out = reinterpret_cast<Bytef*>(spare);
          z.avail_out = 1;
          overflow = true;
        } else {
          break;  // wrote into the spare byte: more data than declared
        }
      }
      const uInt before_in = z.avail_in, before_out = z.avail_out;
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc == Z_OK && z.avail_in == before_in && z.avail_out == before_out) break;  // no progress: input ended
    }
    const std::uint64_t produced = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END || produced != e.size)
      throw bad_input(path, "zip entry " + in_quotes(e.name) + ": deflate data is corrupt or does not inflate to its " +
                                std::to_string(e.size) + " bytes");
  }
  const auto crc = crc32_of(out);
  if (crc != e.crc32)
    throw bad_input(path, "zip entry " + in_quotes(e.name) + " fails its CRC-32 check (corrupt archive)");
  return out;
}

}  // namespace paramscope::io
