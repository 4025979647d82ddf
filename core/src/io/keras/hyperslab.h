// A flattened element range of an N-dimensional HDF5 dataset as a hyperslab selection, so that
// tensors can be read (and written) in row-major chunks of any size.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <span>
#include <vector>

namespace paramscope::io::keras {

/// One box of the selection: start and count per dimension.
struct Box {
  std::vector<hsize_t> start, count;
};

/// Boxes that together hold exactly the elements [first, first + count) of an array of shape
/// dims in row-major order: a partial row, whole rows, whole planes, ... and back down, so at
/// most 2 x rank boxes. The caller has checked that the range lies inside the array.
std::vector<Box> row_major_boxes(std::span<const hsize_t> dims, std::uint64_t first, std::uint64_t count);

/// Selects [first, first + count) in space (a simple or scalar dataspace). HDF5 visits a
/// hyperslab union in row-major order, so a 1-D memory buffer of count elements matches it.
/// Returns false if HDF5 refuses the selection. The caller holds h5::mutex().
bool select_range(hid_t space, std::span<const hsize_t> dims, std::uint64_t first, std::uint64_t count);

}  // namespace paramscope::io::keras
