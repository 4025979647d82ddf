// Placeholder until the PyTorch reader lands (being written now).
#include "io/readers.h"
#include "paramscope/error.h"
#include "util/mapped_file.h"

namespace paramscope::io {
Checkpoint open_pytorch(const std::filesystem::path& path) { return parse_pytorch(MappedFile::open(path)); }
Checkpoint parse_pytorch(std::shared_ptr<const MappedFile> file) {
  throw unsupported(file->path(), "PyTorch reader not built yet");
}
}  // namespace paramscope::io
