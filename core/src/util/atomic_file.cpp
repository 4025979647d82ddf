#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

#include "paramscope/error.h"

namespace paramscope {

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  std::string tmpl = target_.string() + ".tmp-XXXXXX";
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0) throw io_error(target_, std::string("cannot create temporary file: ") + std::strerror(errno));
  ::fchmod(fd_, 0644);  // mkstemp makes 0600; outputs are ordinary files
  temp_ = tmpl;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

namespace {

// Starts writing large writes back to disk now, without waiting: the caller goes on computing
// the next bytes while the disk works, and commit()'s fsync finds little left to do. Without
// it the kernel starts late (at its dirty-page thresholds) and fsync waits for nearly all.
void start_writeback(int fd, std::uint64_t offset, std::size_t n) noexcept {
  if (n >= (1u << 20))
    ::sync_file_range(fd, static_cast<off64_t>(offset), static_cast<off64_t>(n), SYNC_FILE_RANGE_WRITE);
}

}  // namespace

void AtomicFile::write(std::span<const std::byte> bytes) {
  const off_t start = bytes.size() >= (1u << 20) ? ::lseek(fd_, 0, SEEK_CUR) : -1;
  const std::byte* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error(target_, std::string("write failed: ") + std::strerror(errno));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (start >= 0) start_writeback(fd_, static_cast<std::uint64_t>(start), bytes.size());
}

void AtomicFile::write_at(std::uint64_t offset, std::span<const std::byte> bytes) {
  // One writer at a time: writes to one file serialise on its inode lock anyway.
  const std::uint64_t start = offset;
  const std::byte* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error(target_, std::string("write failed: ") + std::strerror(errno));
    }
    p += n;
    offset += static_cast<std::uint64_t>(n);
    left -= static_cast<std::size_t>(n);
  }
  start_writeback(fd_, start, bytes.size());
}

void AtomicFile::close_handle() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void AtomicFile::commit() {
  if (fd_ >= 0) {
    if (::fsync(fd_) != 0) throw io_error(target_, std::string("fsync failed: ") + std::strerror(errno));
    if (::close(fd_) != 0) {
      fd_ = -1;
      throw io_error(target_, std::string("close failed: ") + std::strerror(errno));
    }
    fd_ = -1;
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    throw io_error(target_, std::string("cannot rename temporary file into place: ") + std::strerror(errno));
  committed_ = true;
}

}  // namespace paramscope
