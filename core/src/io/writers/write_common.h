// Pieces shared by the writers.
#pragma once

#include <cstdint>
#include <string>

#include "paramscope/error.h"
#include "paramscope/writers.h"

namespace paramscope::detail {

/// Bytes per chunk handed to a ByteFiller: a multiple of every element size.
inline constexpr std::uint64_t kWriteChunk = 8u << 20;

/// Checks a tensor can be written as plain data and returns its size in bytes.
/// throws Error(Usage) if the dtype is a block type or the shape is invalid.
std::uint64_t checked_plain_size(const TensorToWrite& t, const std::string& where);

/// Calls fill over the whole tensor in chunks of at most kWriteChunk bytes.
template <class Sink>
void stream_bytes(const TensorToWrite& t, std::uint64_t size, Sink&& sink);

}  // namespace paramscope::detail

#include <vector>

namespace paramscope::detail {
template <class Sink>
void stream_bytes(const TensorToWrite& t, std::uint64_t size, Sink&& sink) {
  std::vector<std::byte> buf(static_cast<std::size_t>(std::min(size, kWriteChunk)));
  for (std::uint64_t off = 0; off < size; off += kWriteChunk) {
    const auto n = static_cast<std::size_t>(std::min(kWriteChunk, size - off));
    std::span<std::byte> chunk(buf.data(), n);
    t.fill(off, chunk);
    sink(off, std::span<const std::byte>(chunk));
  }
}
}  // namespace paramscope::detail
