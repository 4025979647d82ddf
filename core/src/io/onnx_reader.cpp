// Placeholder until the ONNX reader lands (being written now).
#include "io/readers.h"
#include "paramscope/error.h"

namespace paramscope::io {
Checkpoint open_onnx(const std::filesystem::path& path) { throw unsupported(path, "ONNX reader not built yet"); }
}  // namespace paramscope::io
