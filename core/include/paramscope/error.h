// The one exception type of ParamScope's core library.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace paramscope {

/// Every failure the core reports is an Error. Its message is one line that names the file (and
/// the tensor, where there is one) and says what is wrong, e.g.
/// "model.safetensors: tensor 'fc.weight': data_offsets [0, 12) hold 12 bytes, F32 [2, 2] needs 16".
class Error : public std::runtime_error {
public:
  enum class Kind {
    BadInput,     ///< the file is malformed, truncated, or not what it claims to be
    Unsupported,  ///< well-formed, but uses something ParamScope does not handle (say which)
    Io,           ///< the operating system refused (missing file, permission, disk full)
    Usage,        ///< the caller asked for something impossible (unknown tensor, bad option)
    Cancelled,    ///< a job was cancelled
  };

  Error(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

private:
  Kind kind_;
};

/// "path: what" for errors about a file.
Error bad_input(const std::filesystem::path& file, const std::string& what);
Error unsupported(const std::filesystem::path& file, const std::string& what);
Error io_error(const std::filesystem::path& file, const std::string& what);
Error usage_error(const std::string& what);

}  // namespace paramscope
