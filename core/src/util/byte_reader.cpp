#include "util/byte_reader.h"

#include <string>

#include "paramscope/error.h"

namespace paramscope {

void ByteReader::fail(std::string_view what) const {
  throw bad_input(file_, std::string(what) + " at offset " + std::to_string(offset()));
}

void ByteReader::seek(std::uint64_t pos, std::string_view what) {
  if (pos > data_.size())
    throw bad_input(file_, std::string(what) + ": offset " + std::to_string(base_ + pos) + " is past the end (" +
                               std::to_string(base_ + data_.size()) + " bytes)");
  pos_ = pos;
}

std::span<const std::byte> ByteReader::take(std::uint64_t n, std::string_view what) {
  if (n > remaining())
    throw bad_input(file_, "truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
                               std::to_string(offset()) + ", " + std::to_string(remaining()) + " left");
  auto s = data_.subspan(pos_, n);
  pos_ += n;
  return s;
}

}  // namespace paramscope
