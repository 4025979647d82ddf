// An HDF5 file opened for reading, and the navigation the Keras reader needs: children in the
// order they were written, paths resolved one link at a time, string attributes. Every function
// takes h5::mutex() itself; errors are one-line Errors naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/hdf5_util.h"

namespace paramscope {
class MappedFile;
}

namespace paramscope::io::keras {

/// The open file, shared by the tensors that still read through HDF5 (chunked datasets).
/// Contiguous datasets are read from `map` at `base` + their HDF5 address instead.
class H5File {
public:
  /// Opens a file on disk read-only. throws Error(BadInput) if HDF5 cannot open it.
  static std::shared_ptr<H5File> open(std::shared_ptr<const MappedFile> map);
  /// Opens the HDF5 file held in map at [base, base + size) without copying it (a .keras member).
  static std::shared_ptr<H5File> open_image(std::shared_ptr<const MappedFile> map, std::uint64_t base,
                                            std::uint64_t size, std::filesystem::path shown);
  ~H5File();
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  hid_t id() const noexcept { return file_.get(); }
  /// The path errors name (the .h5 file or the .keras archive).
  const std::filesystem::path& path() const noexcept { return path_; }
  const std::shared_ptr<const MappedFile>& map() const noexcept { return map_; }
  std::uint64_t base() const noexcept { return base_; }
  std::uint64_t size() const noexcept { return size_; }

  struct ImageState;  // the file-image callbacks' user data

private:
  H5File() = default;
  std::filesystem::path path_;
  std::shared_ptr<const MappedFile> map_;
  std::uint64_t base_ = 0;
  std::uint64_t size_ = 0;
  std::unique_ptr<ImageState> image_;
  h5::Handle file_;
};

enum class ObjKind { Group, Dataset, Other };

struct Child {
  std::string name;
  ObjKind kind = ObjKind::Other;
  std::uint64_t addr = 0;  ///< object header address: identifies hard-linked objects
};

/// The objects linked from group: in creation order when the file keeps a creation-order index,
/// else in name order (h5py does not track creation order by default; see WriteOrder).
/// External and user-defined links are skipped: they would open other files.
std::vector<Child> children(const H5File& f, hid_t group, std::string_view where, bool* creation_order = nullptr);

/// Children in the order they were written, for files without a creation-order index: sorted by
/// the file address of the first data below each. HDF5 hands out raw-data space sequentially,
/// while object headers refill space freed by growing group heaps, so data addresses follow the
/// writer's order and header addresses do not. Children without data come last, in name order.
class WriteOrder {
public:
  explicit WriteOrder(const H5File& f) : f_(f) {}
  std::vector<Child> children(hid_t group, const std::string& path);

private:
  std::uint64_t first_data(hid_t parent, const Child& c, const std::string& path, int depth);
  const H5File& f_;
  std::map<std::uint64_t, std::uint64_t> first_;  // object address -> first data address
  std::size_t visits_ = 0;
};

/// Opens base/rel ("dense/kernel:0" crosses the group "dense") one link at a time, refusing
/// external links and empty or absolute paths. nullopt if a link is missing.
std::optional<h5::Handle> open_object(const H5File& f, hid_t base, std::string_view rel, std::string_view where);
ObjKind kind_of(hid_t obj);

/// A group attribute that holds text: a fixed-length or variable-length string, or an array of
/// them. nullopt if there is no such attribute. Keras splits long lists over name0, name1, ...
/// (HDF5's 64 KB object-header limit); read_string_list joins them. An empty attribute of any
/// type (h5py stores [] as an empty float64 array) is an empty list.
std::optional<std::vector<std::string>> read_string_list(const H5File& f, hid_t obj, const std::string& name,
                                                         std::string_view where);
std::optional<std::string> read_string(const H5File& f, hid_t obj, const std::string& name, std::string_view where);

}  // namespace paramscope::io::keras
