// An HDF5 dataset as a tensor: dtype from the HDF5 type, shape from the dataspace, and a source
// that maps contiguous data straight from the file or reads chunked data through HDF5.
#pragma once

#include <memory>
#include <string>

#include "io/keras/h5_file.h"
#include "paramscope/dtype.h"
#include "paramscope/shape.h"
#include "tensor/tensor_source.h"

namespace paramscope::io::keras {

struct DatasetTensor {
  DType dtype = DType::F32;
  Shape shape;
  std::shared_ptr<const detail::TensorSource> source;
  bool mapped = false;  ///< values come straight from the mapped file (no HDF5 call when read)
};

/// Describes the dataset `ds`, which is the object at `path` inside the file (named in errors).
/// Contiguous, allocated, unfiltered data in a standard layout is memory-mapped; anything else
/// (chunked, compressed, never written, unusual bit layouts) is read with H5Dread on demand.
/// throws Error(BadInput) for non-numeric data (strings, compounds, variable-length) or storage
/// that lies outside the file, Error(Unsupported) for external or virtual storage and filters
/// this HDF5 library lacks.
DatasetTensor describe_dataset(const std::shared_ptr<H5File>& file, hid_t ds, const std::string& path);

}  // namespace paramscope::io::keras
