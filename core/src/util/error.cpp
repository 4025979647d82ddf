#include "paramscope/error.h"

namespace paramscope {

Error bad_input(const std::filesystem::path& file, const std::string& what) {
  return Error(Error::Kind::BadInput, file.string() + ": " + what);
}
Error unsupported(const std::filesystem::path& file, const std::string& what) {
  return Error(Error::Kind::Unsupported, file.string() + ": " + what);
}
Error io_error(const std::filesystem::path& file, const std::string& what) {
  return Error(Error::Kind::Io, file.string() + ": " + what);
}
Error usage_error(const std::string& what) { return Error(Error::Kind::Usage, what); }

}  // namespace paramscope
