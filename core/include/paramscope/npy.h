// numpy's NPY and NPZ files as Arrays: the inputs and outputs of `paramscope-cli run` and the
// calibration data of `calibrate`.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "paramscope/array.h"

namespace paramscope {

/// Reads an NPY file (format 1.0, 2.0 or 3.0) of dtype f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 or b1.
/// Big-endian data is converted, Fortran-order data is transposed to row-major.
/// throws Error(Io) if the file cannot be read; Error(BadInput) naming the file if the header
/// or the data size does not hold up; Error(Unsupported) for other dtypes (structured, complex,
/// strings, objects).
Array read_npy(const std::filesystem::path& path);

/// The same from bytes in memory; errors name `name`.
Array parse_npy(std::span<const std::byte> bytes, const std::string& name);

/// Every array of an NPZ archive (np.savez, stored or deflated members), in archive order, named
/// without the ".npy" suffix. throws as read_npy, naming the archive and the member.
std::vector<std::pair<std::string, Array>> read_npz(const std::filesystem::path& path);

/// Writes a as NPY format 1.0 (2.0 for huge headers), byte for byte as np.save does, through a
/// temporary file renamed into place. throws Error(Io) if writing fails, Error(Usage) for BF16
/// (which numpy lacks).
void write_npy(const std::filesystem::path& path, const Array& a);

}  // namespace paramscope
