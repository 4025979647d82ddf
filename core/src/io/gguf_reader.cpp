// Placeholder until the GGUF reader lands (being written now).
#include "io/readers.h"
#include "paramscope/error.h"
#include "util/mapped_file.h"

namespace paramscope::io {
Checkpoint open_gguf(const std::filesystem::path& path) { return parse_gguf(MappedFile::open(path)); }
Checkpoint parse_gguf(std::shared_ptr<const MappedFile> file) {
  throw unsupported(file->path(), "GGUF reader not built yet");
}
}  // namespace paramscope::io
