// Where tests find their fixtures and the programs they drive.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace paramscope::test {

inline std::filesystem::path data_dir() {
  return PARAMSCOPE_TEST_DATA;
}
inline std::filesystem::path data(const std::string& rel) {
  return data_dir() / rel;
}
inline std::filesystem::path samples_dir() {
  return PARAMSCOPE_SAMPLES;
}
inline std::filesystem::path source_dir() {
  return PARAMSCOPE_SOURCE_DIR;
}
/// The paramscope-cli under test (set by CTest).
inline std::filesystem::path cli() {
  const char* p = std::getenv("PARAMSCOPE_CLI");
  return p ? p : "paramscope-cli";
}

}  // namespace paramscope::test
