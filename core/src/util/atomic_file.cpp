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

void AtomicFile::write(std::span<const std::byte> bytes) {
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
