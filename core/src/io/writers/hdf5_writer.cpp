// HDF5 output laid out as h5py would write it: F16/BF16 as custom IEEE float types, BOOL as
// h5py's int8 enum {FALSE, TRUE}, strings as UTF-8 fixed-length attributes.
#include <algorithm>
#include <vector>

#include "io/writers/write_common.h"
#include "util/atomic_file.h"
#include "util/hdf5_util.h"

namespace paramscope {
namespace {

using h5::Handle;

Handle file_type(DType t) {
  switch (t) {
    case DType::F32: return Handle(H5Tcopy(H5T_IEEE_F32LE));
    case DType::F64: return Handle(H5Tcopy(H5T_IEEE_F64LE));
    case DType::F16: {
      Handle h(H5Tcopy(H5T_IEEE_F32LE));
      H5Tset_fields(h.get(), 15, 10, 5, 0, 10);
      H5Tset_size(h.get(), 2);
      H5Tset_ebias(h.get(), 15);
      return h;
    }
    case DType::BF16: {
      Handle h(H5Tcopy(H5T_IEEE_F32LE));
      H5Tset_fields(h.get(), 15, 7, 8, 0, 7);
      H5Tset_size(h.get(), 2);
      H5Tset_ebias(h.get(), 127);
      return h;
    }
    case DType::BOOL: {
      Handle h(H5Tenum_create(H5T_NATIVE_INT8));
      std::int8_t f = 0, tr = 1;
      H5Tenum_insert(h.get(), "FALSE", &f);
      H5Tenum_insert(h.get(), "TRUE", &tr);
      return h;
    }
    case DType::U8: return Handle(H5Tcopy(H5T_STD_U8LE));
    case DType::I8: return Handle(H5Tcopy(H5T_STD_I8LE));
    case DType::I16: return Handle(H5Tcopy(H5T_STD_I16LE));
    case DType::U16: return Handle(H5Tcopy(H5T_STD_U16LE));
    case DType::I32: return Handle(H5Tcopy(H5T_STD_I32LE));
    case DType::U32: return Handle(H5Tcopy(H5T_STD_U32LE));
    case DType::I64: return Handle(H5Tcopy(H5T_STD_I64LE));
    case DType::U64: return Handle(H5Tcopy(H5T_STD_U64LE));
    default: return Handle();
  }
}

void write_attribute(hid_t obj, const Hdf5Attribute& a, const std::filesystem::path& path) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle type;
  if (a.is_number) {
    type = Handle(H5Tcopy(H5T_IEEE_F64LE));
  } else {
    type = Handle(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.get(), std::max<std::size_t>(1, a.text.size()));
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  }
  Handle attr(H5Acreate2(obj, a.name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid()) throw io_error(path, "cannot create attribute '" + a.name + "': " + h5::last_error());
  const herr_t rc = a.is_number ? H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &a.number)
                                : H5Awrite(attr.get(), type.get(), a.text.empty() ? "" : a.text.data());
  if (rc < 0) throw io_error(path, "cannot write attribute '" + a.name + "': " + h5::last_error());
}

void write_dataset(hid_t file, const Hdf5Dataset& d, const std::filesystem::path& path) {
  const auto& t = d.data;
  const std::uint64_t size = detail::checked_plain_size(t, path.string());
  Handle type = file_type(t.dtype);
  if (!type.valid()) throw usage_error(path.string() + ": cannot store " + std::string(dtype_name(t.dtype)) + " in HDF5");
  if (d.path.empty() || d.path.front() == '/' || d.path.back() == '/')
    throw usage_error(path.string() + ": invalid dataset path '" + d.path + "'");
  std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  if (dims.empty()) space = Handle(H5Screate(H5S_SCALAR));
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle ds(H5Dcreate2(file, d.path.c_str(), type.get(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) throw io_error(path, "cannot create dataset '" + d.path + "': " + h5::last_error());

  // Written in slabs of whole rows along the first dimension so memory stays bounded.
  const std::uint64_t elem = dtype_info(t.dtype).block_bytes;
  const std::uint64_t row_bytes = dims.empty() ? size : (dims[0] ? size / dims[0] : 0);
  const std::uint64_t rows_per_slab = row_bytes ? std::max<std::uint64_t>(1, detail::kWriteChunk / row_bytes) : 1;
  const std::uint64_t nrows = dims.empty() ? 1 : dims[0];
  std::vector<std::byte> buf;
  for (std::uint64_t r = 0; r < nrows && size > 0; r += rows_per_slab) {
    const std::uint64_t rows = std::min(rows_per_slab, nrows - r);
    buf.resize(static_cast<std::size_t>(rows * row_bytes));
    // A slab larger than one fill chunk is filled in pieces.
    for (std::uint64_t off = 0; off < buf.size(); off += detail::kWriteChunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(detail::kWriteChunk, buf.size() - off));
      t.fill(r * row_bytes + off, std::span<std::byte>(buf.data() + off, n));
    }
    Handle fspace(H5Dget_space(ds.get()));
    if (!dims.empty()) {
      std::vector<hsize_t> start(dims.size(), 0), count = dims;
      start[0] = r;
      count[0] = rows;
      H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    }
    const hsize_t melems = rows * row_bytes / elem;
    Handle mspace(H5Screate_simple(1, &melems, nullptr));
    if (H5Dwrite(ds.get(), type.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data()) < 0)
      throw io_error(path, "cannot write dataset '" + d.path + "': " + h5::last_error());
  }
  for (const auto& a : d.attributes) write_attribute(ds.get(), a, path);
}

}  // namespace

void write_hdf5(const std::filesystem::path& path, const std::vector<Hdf5Dataset>& datasets,
                const std::vector<Hdf5Attribute>& root_attributes) {
  std::lock_guard lock(h5::mutex());
  h5::silence_errors();
  AtomicFile out(path);
  out.close_handle();
  {
    Handle file(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!file.valid()) throw io_error(path, "cannot create HDF5 file: " + h5::last_error());
    for (const auto& d : datasets) write_dataset(file.get(), d, path);
    for (const auto& a : root_attributes) write_attribute(file.get(), a, path);
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) throw io_error(path, "cannot flush HDF5 file: " + h5::last_error());
  }
  out.commit();
}

}  // namespace paramscope
