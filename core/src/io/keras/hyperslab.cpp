#include "io/keras/hyperslab.h"

#include <algorithm>

namespace paramscope::io::keras {

std::vector<Box> row_major_boxes(std::span<const hsize_t> dims, std::uint64_t first, std::uint64_t count) {
  const std::size_t rank = dims.size();
  std::vector<Box> out;
  if (rank == 0 || count == 0) return out;
  // stride[d]: elements in one step along dimension d.
  std::vector<std::uint64_t> stride(rank, 1);
  for (std::size_t d = rank - 1; d > 0; --d) stride[d - 1] = stride[d] * dims[d];

  std::uint64_t pos = first;
  const std::uint64_t end = first + count;
  std::vector<hsize_t> idx(rank);
  while (pos < end) {
    std::uint64_t rest = pos;
    for (std::size_t d = 0; d < rank; ++d) {
      idx[d] = rest / stride[d];
      rest %= stride[d];
    }
    // The outermost dimension j at which whole sub-arrays can be taken: every index after j is
    // zero and at least one full step along j is left. j = rank - 1 always qualifies.
    std::size_t j = rank - 1;
    for (std::size_t d = 0; d < rank; ++d) {
      bool aligned = true;
      for (std::size_t k = d + 1; k < rank; ++k) aligned = aligned && idx[k] == 0;
      if (aligned && end - pos >= stride[d]) {
        j = d;
        break;
      }
    }
    const std::uint64_t n = std::min<std::uint64_t>(dims[j] - idx[j], (end - pos) / stride[j]);
    Box b{idx, std::vector<hsize_t>(rank, 1)};
    b.count[j] = n;
    for (std::size_t k = j + 1; k < rank; ++k) b.count[k] = dims[k];
    out.push_back(std::move(b));
    pos += n * stride[j];
  }
  return out;
}

bool select_range(hid_t space, std::span<const hsize_t> dims, std::uint64_t first, std::uint64_t count) {
  if (dims.empty()) return H5Sselect_all(space) >= 0;
  if (count == 0) return H5Sselect_none(space) >= 0;
  const auto boxes = row_major_boxes(dims, first, count);
  bool set = true;
  for (const auto& b : boxes) {
    if (H5Sselect_hyperslab(space, set ? H5S_SELECT_SET : H5S_SELECT_OR, b.start.data(), nullptr, b.count.data(),
                            nullptr) < 0)
      return false;
    set = false;
  }
  return true;
}

}  // namespace paramscope::io::keras
