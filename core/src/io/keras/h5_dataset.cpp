#include "io/keras/h5_dataset.h"

#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <list>
#include <mutex>
#include <vector>

#include "io/keras/hyperslab.h"
#include "paramscope/error.h"
#include "tensor/convert.h"
#include "util/mapped_file.h"

namespace paramscope::io::keras {
using h5::Handle;

namespace {

// The IEEE-style layouts ParamScope converts itself: sign position, exponent position and size,
// mantissa position and size, exponent bias (as H5Tget_fields / H5Tget_ebias report them).
struct FloatLayout {
  DType dtype;
  std::size_t size, spos, epos, esize, mpos, msize, ebias;
};
constexpr FloatLayout kFloatLayouts[] = {
    {DType::F16, 2, 15, 10, 5, 0, 10, 15},
    {DType::BF16, 2, 15, 7, 8, 0, 7, 127},
    {DType::F32, 4, 31, 23, 8, 0, 23, 127},
    {DType::F64, 8, 63, 52, 11, 0, 52, 1023},
};

struct TypeMapping {
  DType dtype = DType::F32;
  bool standard = false;    ///< bytes are our dtype's layout (possibly byte-swapped): mappable
  bool big_endian = false;
  Handle mem_type;          ///< what H5Dread converts to when not standard-mappable
  bool read_as_float = false;  ///< mem_type is native float: HDF5 converts an unusual layout
};

bool byte_order_ok(hid_t type, bool& big_endian) {
  const H5T_order_t order = H5Tget_order(type);
  big_endian = order == H5T_ORDER_BE;
  return order == H5T_ORDER_LE || order == H5T_ORDER_BE || order == H5T_ORDER_NONE;
}

std::optional<DType> integer_dtype(std::size_t size, bool is_signed) {
  switch (size) {
    case 1: return is_signed ? DType::I8 : DType::U8;
    case 2: return is_signed ? DType::I16 : DType::U16;
    case 4: return is_signed ? DType::I32 : DType::U32;
    case 8: return is_signed ? DType::I64 : DType::U64;
    default: return std::nullopt;
  }
}

// A copy of type in little-endian order: HDF5 swaps big-endian data while reading.
Handle little_endian_copy(hid_t type) {
  Handle t(H5Tcopy(type));
  if (H5Tget_size(type) > 1) H5Tset_order(t.get(), H5T_ORDER_LE);
  return t;
}

// h5py stores numpy bool as an int8 enum {FALSE = 0, TRUE = 1}.
bool is_h5py_bool(hid_t type) {
  if (H5Tget_nmembers(type) != 2 || H5Tget_size(type) != 1) return false;
  for (unsigned i = 0; i < 2; ++i) {
    char* name = H5Tget_member_name(type, i);
    std::int8_t value = -1;
    const bool ok = name && H5Tget_member_value(type, i, &value) >= 0 &&
                    std::string_view(name) == (i == 0 ? "FALSE" : "TRUE") && value == static_cast<std::int8_t>(i);
    H5free_memory(name);
    if (!ok) return false;
  }
  return true;
}

// Keras 3 saves ml_dtypes.bfloat16 through h5py, which has no such type: 2-byte opaque data
// with the dataset attribute dtype = "bfloat16" (keras/src/saving/saving_lib.py, H5Entry).
bool is_keras_bfloat16(const H5File& f, hid_t ds, hid_t type, const std::string& path) {
  if (H5Tget_size(type) != 2) return false;
  const auto tag = read_string(f, ds, "dtype", path);
  return tag && *tag == "bfloat16";
}

TypeMapping map_type(const H5File& f, hid_t ds, hid_t type, const std::string& path) {
  const auto& file = f.path();
  const std::string what = "dataset '" + path + "'";
  TypeMapping m;
  const std::size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_FLOAT: {
      std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
      H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
      if (size == 2) m.dtype = esize == 8 ? DType::BF16 : DType::F16;
      else if (size == 4) m.dtype = DType::F32;
      else if (size == 8) m.dtype = DType::F64;
      else throw unsupported(file, what + " holds " + std::to_string(size) + "-byte floating-point numbers");
      bool layout_ok = false;
      for (const auto& l : kFloatLayouts)
        layout_ok = layout_ok || (l.dtype == m.dtype && l.size == size && l.spos == spos && l.epos == epos &&
                                  l.esize == esize && l.mpos == mpos && l.msize == msize && l.ebias == H5Tget_ebias(type));
      m.standard = layout_ok && byte_order_ok(type, m.big_endian) && H5Tget_precision(type) == 8 * size &&
                   H5Tget_offset(type) == 0 && H5Tget_norm(type) == H5T_NORM_IMPLIED;
      break;
    }
    case H5T_INTEGER: {
      const auto dt = integer_dtype(size, H5Tget_sign(type) == H5T_SGN_2);
      if (!dt) throw unsupported(file, what + " holds " + std::to_string(size) + "-byte integers");
      m.dtype = *dt;
      m.standard = byte_order_ok(type, m.big_endian) && H5Tget_precision(type) == 8 * size && H5Tget_offset(type) == 0;
      break;
    }
    case H5T_ENUM: {
      Handle base(H5Tget_super(type));
      if (!base.valid() || H5Tget_class(base.get()) != H5T_INTEGER)
        throw bad_input(file, what + " holds an enumeration that is not integer-based");
      const auto dt = integer_dtype(size, H5Tget_sign(base.get()) == H5T_SGN_2);
      if (!dt) throw unsupported(file, what + " holds a " + std::to_string(size) + "-byte enumeration");
      m.dtype = is_h5py_bool(type) ? DType::BOOL : *dt;
      m.standard = byte_order_ok(base.get(), m.big_endian) && H5Tget_precision(base.get()) == 8 * size &&
                   H5Tget_offset(base.get()) == 0;
      if (!m.standard) throw unsupported(file, what + " holds an enumeration with an unusual bit layout");
      // HDF5 converts enums only to enums: read into the native-order copy of the same enum.
      m.mem_type = Handle(H5Tget_native_type(type, H5T_DIR_ASCEND));
      return m;
    }
    case H5T_OPAQUE:
      if (!is_keras_bfloat16(f, ds, type, path)) throw bad_input(file, what + " holds opaque bytes, not numbers");
      m.dtype = DType::BF16;
      m.standard = true;
      m.mem_type = Handle(H5Tcopy(type));
      return m;
    case H5T_STRING: throw bad_input(file, what + " holds strings, not numbers");
    case H5T_COMPOUND: throw bad_input(file, what + " holds compound records, not numbers");
    case H5T_VLEN: throw bad_input(file, what + " holds variable-length sequences, not numbers");
    case H5T_ARRAY: throw unsupported(file, what + " holds an array per element (HDF5 array type)");
    default: throw bad_input(file, what + " is not numeric (HDF5 type class " + std::to_string(H5Tget_class(type)) + ")");
  }
  if (m.standard) {
    m.mem_type = little_endian_copy(type);
  } else {
    m.mem_type = Handle(H5Tcopy(H5T_NATIVE_FLOAT));
    m.read_as_float = true;
  }
  return m;
}

Shape read_shape(const H5File& f, hid_t ds, const std::string& path, std::vector<hsize_t>& dims) {
  const std::string what = "dataset '" + path + "'";
  Handle space(H5Dget_space(ds));
  if (!space.valid()) throw bad_input(f.path(), what + ": cannot read its dataspace: " + h5::last_error());
  switch (H5Sget_simple_extent_type(space.get())) {
    case H5S_SCALAR: return {};
    case H5S_SIMPLE: break;
    case H5S_NULL: throw unsupported(f.path(), what + " has a null dataspace (no shape)");
    default: throw bad_input(f.path(), what + " has an invalid dataspace");
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > H5S_MAX_RANK) throw bad_input(f.path(), what + " has an invalid rank");
  dims.assign(static_cast<std::size_t>(rank), 0);
  if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    throw bad_input(f.path(), what + ": cannot read its dimensions: " + h5::last_error());
  Shape shape;
  for (hsize_t d : dims) {
    if (d > static_cast<hsize_t>(INT64_MAX)) throw bad_input(f.path(), what + " has a dimension beyond 2^63");
    shape.push_back(static_cast<std::int64_t>(d));
  }
  if (!checked_numel(shape)) throw bad_input(f.path(), what + ": shape " + shape_string(shape) + " overflows");
  return shape;
}

// Decoded slabs of chunked tensors (see Hdf5Source), shared by all of them and bounded in total:
// parallel readers of one tensor find each other's slabs, and tensors read once and left idle
// hold no more than kBudget between them.
class SlabCache {
public:
  using Slab = std::shared_ptr<const std::vector<float>>;
  static constexpr std::uint64_t kBudget = 64ull << 20;

  static SlabCache& instance() {
    static SlabCache cache;
    return cache;
  }

  SlabCache() {
    // The vetting child of open_keras (util/isolated_run.h) reads tensors through this cache: no
    // other thread may hold its lock across fork().
    ::pthread_atfork([] { instance().mutex_.lock(); }, [] { instance().mutex_.unlock(); },
                     [] { instance().mutex_.unlock(); });
  }

  Slab find(const void* owner, std::uint64_t start) {
    std::lock_guard lock(mutex_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it)
      if (it->owner == owner && it->start == start) {
        lru_.splice(lru_.begin(), lru_, it);  // most recently used first
        return it->slab;
      }
    return nullptr;
  }

  void put(const void* owner, std::uint64_t start, Slab slab) {
    std::lock_guard lock(mutex_);
    for (const auto& e : lru_)
      if (e.owner == owner && e.start == start) return;  // another thread was first
    bytes_ += slab->size() * sizeof(float);
    lru_.push_front({owner, start, std::move(slab)});
    while (bytes_ > kBudget && lru_.size() > 1) {
      bytes_ -= lru_.back().slab->size() * sizeof(float);
      lru_.pop_back();
    }
  }

  void drop_all(const void* owner) noexcept {
    std::lock_guard lock(mutex_);
    for (auto it = lru_.begin(); it != lru_.end();)
      if (it->owner == owner) {
        bytes_ -= it->slab->size() * sizeof(float);
        it = lru_.erase(it);
      } else {
        ++it;
      }
  }

private:
  struct Entry {
    const void* owner;
    std::uint64_t start;
    Slab slab;
  };
  std::mutex mutex_;
  std::list<Entry> lru_;
  std::uint64_t bytes_ = 0;
};

// Values read with H5Dread under the HDF5 lock. The dataset is opened for each read rather than
// held: an open dataset keeps HDF5's chunk cache, and a model has many tensors.
//
// Chunked data is decompressed a whole chunk at a time, so a caller streaming a tensor in pieces
// that do not line up with chunks (the statistics read 64K elements at a time, in parallel) would
// decompress each chunk many times. Instead reads go by slabs of whole chunk rows along the first
// dimension: whole slabs straight into the caller's buffer, partial ones through SlabCache.
class Hdf5Source final : public detail::TensorSource {
public:
  static constexpr std::uint64_t kMaxSlabBytes = 16ull << 20;

  Hdf5Source(std::shared_ptr<H5File> file, std::string path, DType dtype, std::vector<hsize_t> dims,
             TypeMapping mapping, std::uint64_t chunk_rows)
      : TensorSource(file->path().string()), file_(std::move(file)), path_(std::move(path)), dtype_(dtype),
        elem_(dtype_info(dtype).block_bytes), dims_(std::move(dims)), mem_type_(std::move(mapping.mem_type)),
        as_float_(mapping.read_as_float) {
    numel_ = 1;
    for (hsize_t d : dims_) numel_ *= d;
    const std::uint64_t row = dims_.empty() || dims_[0] == 0 ? 0 : numel_ / dims_[0];
    if (chunk_rows > 0 && row > 0 && chunk_rows <= kMaxSlabBytes / sizeof(float) / row) slab_ = chunk_rows * row;
  }

  ~Hdf5Source() override {
    SlabCache::instance().drop_all(this);  // before another source can be built at this address
    std::lock_guard lock(h5::mutex());
    mem_type_.reset();
  }

  void read_f32(std::int64_t first, std::span<float> out) const override {
    if (slab_ == 0) return read_direct(static_cast<std::uint64_t>(first), out);
    auto& cache = SlabCache::instance();
    std::uint64_t pos = static_cast<std::uint64_t>(first);
    const std::uint64_t end = pos + out.size();
    while (pos < end) {
      float* dst = out.data() + (pos - static_cast<std::uint64_t>(first));
      const std::uint64_t slab_start = pos - pos % slab_;
      const std::uint64_t slab_end = std::min(slab_start + slab_, numel_);
      if (pos == slab_start && end >= slab_end) {  // whole slabs: no cache needed
        const std::uint64_t stop = end == numel_ ? end : end - end % slab_;
        read_direct(pos, std::span<float>(dst, stop - pos));
        pos = stop;
        continue;
      }
      auto slab = cache.find(this, slab_start);
      if (!slab) {
        auto fresh = std::make_shared<std::vector<float>>(slab_end - slab_start);
        read_direct(slab_start, *fresh);
        slab = fresh;
        cache.put(this, slab_start, slab);
      }
      const std::uint64_t n = std::min(end, slab_end) - pos;
      std::copy_n(slab->data() + (pos - slab_start), n, dst);
      pos += n;
    }
  }

private:
  // One H5Dread of [first, first + out.size()).
  void read_direct(std::uint64_t first, std::span<float> out) const {
    std::vector<std::byte> raw;
    {
      std::lock_guard lock(h5::mutex());
      auto fail = [&](const std::string& what) {
        return bad_input(file_->path(), "dataset '" + path_ + "': " + what + ": " + h5::last_error());
      };
      Handle ds(H5Dopen2(file_->id(), path_.c_str(), H5P_DEFAULT));
      if (!ds.valid()) throw fail("cannot open");
      Handle fspace(H5Dget_space(ds.get()));
      const hsize_t n = out.size();
      if (!fspace.valid() || !select_range(fspace.get(), dims_, first, n)) throw fail("cannot select elements");
      // A memory space shaped like a single box lets HDF5 copy chunk rows in runs instead of
      // mapping every element of a chunk onto a flat buffer (5x faster for whole slabs).
      Handle mspace;
      if (const auto boxes = row_major_boxes(dims_, first, n); boxes.size() == 1)
        mspace = Handle(H5Screate_simple(static_cast<int>(dims_.size()), boxes.front().count.data(), nullptr));
      else
        mspace = Handle(H5Screate_simple(1, &n, nullptr));
      herr_t rc;
      if (as_float_) {
        rc = H5Dread(ds.get(), mem_type_.get(), mspace.get(), fspace.get(), H5P_DEFAULT, out.data());
      } else {
        raw.resize(out.size() * elem_);
        rc = H5Dread(ds.get(), mem_type_.get(), mspace.get(), fspace.get(), H5P_DEFAULT, raw.data());
      }
      if (rc < 0) throw fail("cannot read values");
    }
    if (!as_float_) convert_to_f32(dtype_, raw.data(), out.size(), out.data());
  }

  std::shared_ptr<H5File> file_;
  std::string path_;
  DType dtype_;
  std::uint32_t elem_;
  std::vector<hsize_t> dims_;
  Handle mem_type_;
  bool as_float_;
  std::uint64_t numel_ = 0;
  std::uint64_t slab_ = 0;  // elements per slab of whole chunk rows; 0: always read directly
};

void check_filters(const H5File& f, hid_t dcpl, const std::string& path) {
  const int n = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t nvalues = 0;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &nvalues, nullptr, sizeof name,
                                           name, &config);
    if (id < 0) throw bad_input(f.path(), "dataset '" + path + "': cannot read its filter pipeline: " + h5::last_error());
    if (H5Zfilter_avail(id) <= 0)
      throw unsupported(f.path(), "dataset '" + path + "' is compressed with HDF5 filter " + std::to_string(id) +
                                      (name[0] ? " (" + std::string(name) + ")" : std::string()) +
                                      ", which this HDF5 library does not provide");
  }
}

}  // namespace

DatasetTensor describe_dataset(const std::shared_ptr<H5File>& file, hid_t ds, const std::string& path) {
  std::lock_guard lock(h5::mutex());
  const auto& f = *file;
  const std::string what = "dataset '" + path + "'";
  Handle type(H5Dget_type(ds));
  if (!type.valid()) throw bad_input(f.path(), what + ": cannot read its type: " + h5::last_error());
  TypeMapping mapping = map_type(f, ds, type.get(), path);
  std::vector<hsize_t> dims;
  DatasetTensor t;
  t.dtype = mapping.dtype;
  t.shape = read_shape(f, ds, path, dims);
  const std::int64_t n = numel(t.shape);
  const auto nbytes = storage_bytes(t.dtype, static_cast<std::uint64_t>(n));
  if (!nbytes) throw bad_input(f.path(), what + ": shape " + shape_string(t.shape) + " overflows");

  Handle dcpl(H5Dget_create_plist(ds));
  if (!dcpl.valid()) throw bad_input(f.path(), what + ": cannot read its storage layout: " + h5::last_error());
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_VIRTUAL) throw unsupported(f.path(), what + " is a virtual dataset (its data lives in other files)");
  if (H5Pget_external_count(dcpl.get()) > 0)
    throw unsupported(f.path(), what + " keeps its data in external files");
  if (layout < 0) throw bad_input(f.path(), what + ": unknown storage layout");

  if (n == 0) {
    t.source = detail::make_owned_source({}, t.dtype, f.path().string());
    return t;
  }
  if (layout == H5D_CONTIGUOUS && mapping.standard) {
    const haddr_t addr = H5Dget_offset(ds);
    if (addr != HADDR_UNDEF) {
      const hsize_t stored = H5Dget_storage_size(ds);
      if (stored != *nbytes)
        throw bad_input(f.path(), what + " stores " + std::to_string(stored) + " bytes, " +
                                      std::string(dtype_name(t.dtype)) + " " + shape_string(t.shape) + " needs " +
                                      std::to_string(*nbytes));
      if (addr > f.size() || *nbytes > f.size() - addr)
        throw bad_input(f.path(), what + ": data at [" + std::to_string(addr) + ", " + std::to_string(addr + *nbytes) +
                                      ") lies beyond the end of the file (" + std::to_string(f.size()) + " bytes)");
      t.source = detail::make_mapped_source(f.map(), f.base() + addr, t.dtype, n, mapping.big_endian);
      t.mapped = true;
      return t;
    }
  }
  check_filters(f, dcpl.get(), path);
  std::uint64_t chunk_rows = 0;
  if (layout == H5D_CHUNKED && !dims.empty()) {
    std::vector<hsize_t> chunk(dims.size());
    if (H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) == static_cast<int>(chunk.size()))
      chunk_rows = chunk[0];
  }
  t.source = std::make_shared<Hdf5Source>(file, path, t.dtype, std::move(dims), std::move(mapping), chunk_rows);
  return t;
}

}  // namespace paramscope::io::keras
