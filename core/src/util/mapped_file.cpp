#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "paramscope/error.h"

namespace paramscope {

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw io_error(path, std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw io_error(path, std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw io_error(path, "is a directory, expected a file");
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = static_cast<std::size_t>(st.st_size);
  if (m->size_ > 0) {
    void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw io_error(path, std::string("cannot map file: ") + std::strerror(e));
    }
    m->data_ = static_cast<const std::byte*>(p);
    m->mapped_ = true;
  }
  ::close(fd);  // the mapping keeps the file open
  return m;
}

std::shared_ptr<const MappedFile> MappedFile::from_buffer(std::vector<std::byte> data, std::filesystem::path name) {
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = std::move(name);
  m->buffer_ = std::move(data);
  m->data_ = m->buffer_.data();
  m->size_ = m->buffer_.size();
  return m;
}

MappedFile::~MappedFile() {
  if (mapped_) ::munmap(const_cast<std::byte*>(data_), size_);
}

void MappedFile::release(std::uint64_t offset, std::uint64_t length) const noexcept {
  if (!mapped_ || offset >= size_) return;
  static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the range. Rounding outwards would drop pages a neighbouring chunk is
  // still reading, and the kernel's fault-around maps 16 pages back when it faults one in,
  // including pages already released: resident memory then grows to 1.7 GB over a 7B model.
  // Callers release whole tensors when they are done with them (see jobs/chunk_stream.h).
  const std::uint64_t end = std::min<std::uint64_t>(offset + length, size_);
  const std::uint64_t first = (offset + page - 1) / page * page;
  const std::uint64_t last = end == size_ ? end : end / page * page;
  if (last <= first) return;
  ::madvise(const_cast<std::byte*>(data_) + first, last - first, MADV_DONTNEED);
}

}  // namespace paramscope
