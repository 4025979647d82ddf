// Which pickle globals a checkpoint may name. The unpickler never imports or calls a global, so
// none could run here; but a pickle that names os.system or builtins.eval was made to run code
// in whoever loads it with torch.load, and is refused so the user learns the file is hostile.
#pragma once

#include <string>
#include <string_view>

namespace paramscope::io::pytorch {

/// Python 2 module names as Python 3's pickle maps them ("__builtin__" -> "builtins").
std::string_view normalise_module(std::string_view module) noexcept;

/// True if module.name would run code, touch files, processes or the network, or import or
/// unpickle more data when called.
bool is_dangerous_global(std::string_view module, std::string_view name);

}  // namespace paramscope::io::pytorch
