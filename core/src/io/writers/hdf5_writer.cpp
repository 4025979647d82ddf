// HDF5 output laid out as h5py would write it: F16/BF16 as custom IEEE float types, BOOL as
// h5py's int8 enum {FALSE, TRUE}, strings as UTF-8 fixed-length attributes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <vector>

#include "io/keras/hyperslab.h"
#include "io/writers/write_common.h"
#include "util/atomic_file.h"
#include "util/hdf5_util.h"

namespace paramscope {
namespace {

using h5::Handle;

Handle file_type(DType t) {
  switch (t) {
    case DType::F32:
      return Handle(H5Tcopy(H5T_IEEE_F32LE));
    case DType::F64:
      return Handle(H5Tcopy(H5T_IEEE_F64LE));
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
    case DType::U8:
      return Handle(H5Tcopy(H5T_STD_U8LE));
    case DType::I8:
      return Handle(H5Tcopy(H5T_STD_I8LE));
    case DType::I16:
      return Handle(H5Tcopy(H5T_STD_I16LE));
    case DType::U16:
      return Handle(H5Tcopy(H5T_STD_U16LE));
    case DType::I32:
      return Handle(H5Tcopy(H5T_STD_I32LE));
    case DType::U32:
      return Handle(H5Tcopy(H5T_STD_U32LE));
    case DType::I64:
      return Handle(H5Tcopy(H5T_STD_I64LE));
    case DType::U64:
      return Handle(H5Tcopy(H5T_STD_U64LE));
    default:
      return Handle();
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

// Dataset paths are plain relative paths: HDF5 would read "a//b" as "a/b" and "./a" as "a".
void check_dataset_path(const std::string& p, const std::filesystem::path& path) {
  bool ok = !p.empty() && p.front() != '/' && p.back() != '/';
  for (std::size_t pos = 0; ok && pos < p.size();) {
    const std::size_t end = std::min(p.find('/', pos), p.size());
    const std::string_view part(p.data() + pos, end - pos);
    ok = !part.empty() && part != "." && part != "..";
    pos = end + 1;
  }
  if (!ok) throw usage_error(path.string() + ": invalid dataset path '" + p + "'");
}

// Called with the HDF5 lock held; it is let go while the data are produced, because a filler may
// read tensors of an HDF5 checkpoint on worker threads (an importance map of a Keras model).
void write_dataset(hid_t file, const Hdf5Dataset& d, const std::filesystem::path& path,
                   std::unique_lock<h5::RecursiveLock>& lock) {
  const auto& t = d.data;
  const std::uint64_t size = detail::checked_plain_size(t, path.string());
  Handle type = file_type(t.dtype);
  if (!type.valid())
    throw usage_error(path.string() + ": cannot store " + std::string(dtype_name(t.dtype)) + " in HDF5");
  check_dataset_path(d.path, path);
  const std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  if (!space.valid()) throw usage_error(path.string() + ": invalid shape for dataset '" + d.path + "'");
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  // Contiguous storage: readers (ours included) can map the values straight from the file.
  Handle ds(H5Dcreate2(file, d.path.c_str(), type.get(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) throw io_error(path, "cannot create dataset '" + d.path + "': " + h5::last_error());

  // Written in row-major element ranges of at most kWriteChunk bytes, whatever the shape, so
  // memory stays bounded even for a single huge row.
  const std::uint64_t elem = dtype_info(t.dtype).block_bytes;
  const std::uint64_t numel = size / elem;
  const std::uint64_t step = detail::kWriteChunk / elem;
  std::vector<std::byte> buf;
  for (std::uint64_t first = 0; first < numel; first += step) {
    const std::uint64_t n = std::min(step, numel - first);
    buf.resize(static_cast<std::size_t>(n * elem));
    lock.unlock();
    try {
      t.fill(first * elem, std::span<std::byte>(buf));
    } catch (...) {
      lock.lock();
      throw;
    }
    lock.lock();
    Handle fspace(H5Dget_space(ds.get()));
    const hsize_t mdims = n;
    Handle mspace(H5Screate_simple(1, &mdims, nullptr));
    if (!io::keras::select_range(fspace.get(), dims, first, n) ||
        H5Dwrite(ds.get(), type.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data()) < 0)
      throw io_error(path, "cannot write dataset '" + d.path + "': " + h5::last_error());
  }
  for (const auto& a : d.attributes) write_attribute(ds.get(), a, path);
}

}  // namespace

void write_hdf5(const std::filesystem::path& path, const std::vector<Hdf5Dataset>& datasets,
                const std::vector<Hdf5Attribute>& root_attributes) {
  std::set<std::string_view> seen;
  for (const auto& d : datasets)
    if (!seen.insert(d.path).second) throw usage_error(path.string() + ": dataset path '" + d.path + "' given twice");
  // A dataset cannot also be a group on the way to another one ("a" and "a/b").
  for (const auto& d : datasets)
    for (auto slash = d.path.find('/'); slash != std::string::npos; slash = d.path.find('/', slash + 1))
      if (seen.count(std::string_view(d.path).substr(0, slash)))
        throw usage_error(path.string() + ": dataset path '" + d.path + "' runs through the dataset '" +
                          d.path.substr(0, slash) + "'");
  std::unique_lock lock(h5::mutex());
  h5::silence_errors();
  AtomicFile out(path);
  out.close_handle();
  {
    const hid_t file = H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) throw io_error(path, "cannot create HDF5 file: " + h5::last_error());
    try {
      for (const auto& d : datasets) write_dataset(file, d, path, lock);
      for (const auto& a : root_attributes) write_attribute(file, a, path);
    } catch (...) {
      H5Fclose(file);
      throw;
    }
    // Closing writes the remaining metadata: its failure (disk full) must not go unnoticed.
    if (H5Fclose(file) < 0) throw io_error(path, "cannot finish HDF5 file: " + h5::last_error());
  }
  // HDF5 wrote through its own descriptor; sync the data before the rename makes it visible.
  const int fd = ::open(out.temp_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw io_error(path, "cannot sync HDF5 file: " + why);
  }
  ::close(fd);
  out.commit();
}

}  // namespace paramscope
