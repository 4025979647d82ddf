// Placeholder until the Keras reader lands (being written now).
#include "io/readers.h"
#include "paramscope/error.h"

namespace paramscope::io {
Checkpoint open_keras(const std::filesystem::path& path) { throw unsupported(path, "Keras reader not built yet"); }
}  // namespace paramscope::io
