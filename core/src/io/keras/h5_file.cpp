#include "io/keras/h5_file.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "paramscope/error.h"
#include "util/mapped_file.h"

namespace paramscope::io::keras {
namespace fs = std::filesystem;
using h5::Handle;

namespace {

constexpr std::size_t kMaxListEntries = 10'000'000;
constexpr std::uint64_t kMaxAttributeBytes = 256ull << 20;
constexpr int kMaxAttributeChunks = 100'000;

std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

// The image is the mapped .keras member itself: HDF5's core driver is handed that memory instead
// of a copy (as H5LTopen_file_image does with DONT_COPY). The file is opened read-only, so HDF5
// never writes to, reallocates or frees it; the mapping outlives the HDF5 file (H5File owns both).
struct H5File::ImageState {
  void* data;
  std::size_t size;
};

namespace {

void* image_malloc(std::size_t size, H5FD_file_image_op_t op, void* udata) {
  auto* s = static_cast<H5File::ImageState*>(udata);
  if (size != s->size) return nullptr;
  switch (op) {
    case H5FD_FILE_IMAGE_OP_PROPERTY_LIST_SET:
    case H5FD_FILE_IMAGE_OP_PROPERTY_LIST_COPY:
    case H5FD_FILE_IMAGE_OP_FILE_OPEN: return s->data;
    default: return nullptr;
  }
}
void* image_memcpy(void* dest, const void* src, std::size_t size, H5FD_file_image_op_t, void* udata) {
  auto* s = static_cast<H5File::ImageState*>(udata);
  return dest == s->data && src == s->data && size == s->size ? dest : nullptr;
}
void* image_realloc(void*, std::size_t, H5FD_file_image_op_t, void*) { return nullptr; }
herr_t image_free(void*, H5FD_file_image_op_t, void*) { return 0; }
void* udata_copy(void* udata) { return udata; }
herr_t udata_free(void*) { return 0; }

Handle read_only_fapl() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
#if H5_VERSION_GE(1, 10, 7)
  // Reading needs no lock, and locks fail on some network file systems.
  H5Pset_file_locking(fapl.get(), false, true);
#endif
  return fapl;
}

}  // namespace

std::shared_ptr<H5File> H5File::open(std::shared_ptr<const MappedFile> map) {
  std::lock_guard lock(h5::mutex());
  h5::silence_errors();
  std::shared_ptr<H5File> f(new H5File());
  f->path_ = map->path();
  f->size_ = map->size();
  f->map_ = std::move(map);
  Handle fapl = read_only_fapl();
  f->file_ = Handle(H5Fopen(f->path_.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!f->file_.valid()) throw bad_input(f->path_, "not a readable HDF5 file: " + h5::last_error());
  return f;
}

std::shared_ptr<H5File> H5File::open_image(std::shared_ptr<const MappedFile> map, std::uint64_t base,
                                           std::uint64_t size, fs::path shown) {
  std::lock_guard lock(h5::mutex());
  h5::silence_errors();
  std::shared_ptr<H5File> f(new H5File());
  f->path_ = std::move(shown);
  f->base_ = base;
  f->size_ = size;
  f->map_ = std::move(map);
  // HDF5 never writes to a read-only image, so handing it the read-only mapping is safe.
  void* data = const_cast<std::byte*>(f->map_->bytes().data() + base);
  f->image_ = std::make_unique<ImageState>(ImageState{data, static_cast<std::size_t>(size)});

  Handle fapl = read_only_fapl();
  H5FD_file_image_callbacks_t cb{image_malloc, image_memcpy, image_realloc, image_free,
                                 udata_copy,   udata_free,   f->image_.get()};
  if (H5Pset_fapl_core(fapl.get(), 1 << 16, false) < 0 || H5Pset_file_image_callbacks(fapl.get(), &cb) < 0 ||
      H5Pset_file_image(fapl.get(), data, f->image_->size) < 0)
    throw bad_input(f->path_, "cannot prepare the embedded HDF5 file: " + h5::last_error());
  // HDF5 treats two open files of the same name as one file: give every image its own name.
  static std::atomic<unsigned> serial{0};
  const std::string name = f->path_.string() + "#image" + std::to_string(serial++);
  f->file_ = Handle(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!f->file_.valid()) throw bad_input(f->path_, "embedded weights are not a readable HDF5 file: " + h5::last_error());
  return f;
}

H5File::~H5File() {
  std::lock_guard lock(h5::mutex());
  file_.reset();
}

ObjKind kind_of(hid_t obj) {
  switch (H5Iget_type(obj)) {
    case H5I_GROUP: return ObjKind::Group;
    case H5I_DATASET: return ObjKind::Dataset;
    default: return ObjKind::Other;
  }
}

namespace {

struct LinkList {
  std::vector<std::string> names;
  bool failed = false;
};

herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  auto* out = static_cast<LinkList*>(data);
  // Hard and soft links stay inside the file; external links would open another file.
  if (info->type != H5L_TYPE_HARD && info->type != H5L_TYPE_SOFT) return 0;
  try {
    if (out->names.size() >= kMaxListEntries) return 1;
    out->names.emplace_back(name);
  } catch (...) {
    out->failed = true;
    return -1;
  }
  return 0;
}

bool object_info(hid_t loc, const char* name, ObjKind& kind, std::uint64_t& addr) {
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  if (H5Oget_info_by_name3(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return false;
  haddr_t a = 0;
  if (H5VLnative_token_to_addr(loc, info.token, &a) < 0) return false;
  addr = a;
#else
  H5O_info_t info;
  if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return false;
  addr = info.addr;
#endif
  kind = info.type == H5O_TYPE_GROUP ? ObjKind::Group : info.type == H5O_TYPE_DATASET ? ObjKind::Dataset : ObjKind::Other;
  return true;
}

}  // namespace

std::vector<Child> children(const H5File& f, hid_t group, std::string_view where, bool* creation_order) {
  std::lock_guard lock(h5::mutex());
  unsigned order_flags = 0;
  {
    Handle gcpl(H5Gget_create_plist(group));
    if (gcpl.valid()) H5Pget_link_creation_order(gcpl.get(), &order_flags);
  }
  const bool by_creation = (order_flags & H5P_CRT_ORDER_INDEXED) != 0;
  if (creation_order) *creation_order = by_creation;
  LinkList links;
  hsize_t idx = 0;
  if (H5Literate(group, by_creation ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &links) < 0 ||
      links.failed)
    throw bad_input(f.path(), std::string(where) + ": cannot list the group: " + h5::last_error());
  std::vector<Child> out;
  out.reserve(links.names.size());
  for (auto& name : links.names) {
    Child c;
    if (!object_info(group, name.c_str(), c.kind, c.addr)) continue;  // dangling soft link
    c.name = std::move(name);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<Child> WriteOrder::children(hid_t group, const std::string& path) {
  std::lock_guard lock(h5::mutex());
  bool by_creation = false;
  auto kids = keras::children(f_, group, path, &by_creation);
  if (by_creation) return kids;
  std::vector<std::pair<std::uint64_t, std::size_t>> keys;
  for (std::size_t i = 0; i < kids.size(); ++i) keys.emplace_back(first_data(group, kids[i], path, 0), i);
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Child> out;
  out.reserve(kids.size());
  for (const auto& k : keys) out.push_back(std::move(kids[k.second]));
  return out;
}

std::uint64_t WriteOrder::first_data(hid_t parent, const Child& c, const std::string& path, int depth) {
  constexpr std::uint64_t kNone = UINT64_MAX;
  if (auto it = first_.find(c.addr); it != first_.end()) return it->second;
  first_[c.addr] = kNone;  // also ends cycles of hard links
  // A bound on the work: past it the order falls back to names.
  if (depth > 64 || ++visits_ > 1'000'000) return kNone;
  std::uint64_t first = kNone;
  if (c.kind == ObjKind::Dataset) {
    Handle ds(H5Dopen2(parent, c.name.c_str(), H5P_DEFAULT));
    if (ds.valid()) {
      haddr_t addr = H5Dget_offset(ds.get());
#if H5_VERSION_GE(1, 10, 5)
      if (addr == HADDR_UNDEF) {  // chunked: where the first chunk went
        hsize_t nchunks = 0;
        Handle space(H5Dget_space(ds.get()));
        if (H5Dget_num_chunks(ds.get(), space.get(), &nchunks) >= 0 && nchunks > 0) {
          hsize_t size = 0;
          if (H5Dget_chunk_info(ds.get(), space.get(), 0, nullptr, nullptr, &addr, &size) < 0) addr = HADDR_UNDEF;
        }
      }
#endif
      if (addr != HADDR_UNDEF) first = addr;
    }
  } else if (c.kind == ObjKind::Group) {
    Handle g(H5Gopen2(parent, c.name.c_str(), H5P_DEFAULT));
    const std::string p = path == "/" ? "/" + c.name : path + "/" + c.name;
    if (g.valid())
      for (const auto& k : keras::children(f_, g.get(), p)) first = std::min(first, first_data(g.get(), k, p, depth + 1));
  }
  first_[c.addr] = first;
  return first;
}

std::optional<Handle> open_object(const H5File& f, hid_t base, std::string_view rel, std::string_view where) {
  if (rel.empty() || rel.front() == '/')
    throw bad_input(f.path(), std::string(where) + ": " + q(rel) + " is not a relative path");
  std::lock_guard lock(h5::mutex());
  Handle current;
  hid_t at = base;
  std::size_t pos = 0;
  while (pos <= rel.size()) {
    const std::size_t slash = std::min(rel.find('/', pos), rel.size());
    const std::string part(rel.substr(pos, slash - pos));
    if (part.empty() || part == ".")
      throw bad_input(f.path(), std::string(where) + ": " + q(rel) + " has an empty path component");
    if (H5Iget_type(at) != H5I_GROUP && H5Iget_type(at) != H5I_FILE) return std::nullopt;
    if (H5Lexists(at, part.c_str(), H5P_DEFAULT) <= 0) return std::nullopt;
    H5L_info_t li;
    if (H5Lget_info(at, part.c_str(), &li, H5P_DEFAULT) < 0) return std::nullopt;
    if (li.type != H5L_TYPE_HARD && li.type != H5L_TYPE_SOFT)
      throw unsupported(f.path(), std::string(where) + ": " + q(rel) + " is an external link to another file");
    Handle next(H5Oopen(at, part.c_str(), H5P_DEFAULT));
    if (!next.valid()) return std::nullopt;
    current = std::move(next);
    at = current.get();
    pos = slash + 1;
  }
  return current;
}

namespace {

// Text of one fixed-length element: up to the first NUL, trailing spaces dropped when space-padded.
std::string fixed_text(const char* p, std::size_t size, H5T_str_t pad) {
  std::size_t n = 0;
  while (n < size && p[n] != '\0') ++n;
  if (pad == H5T_STR_SPACEPAD)
    while (n > 0 && p[n - 1] == ' ') --n;
  return std::string(p, n);
}

// Reads one attribute; nullopt when it is not text (and not empty). throws on HDF5 failures.
std::optional<std::vector<std::string>> read_text_attribute(const H5File& f, hid_t obj, const std::string& name,
                                                            std::string_view where) {
  const std::string what = std::string(where) + ": attribute " + q(name);
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) throw bad_input(f.path(), what + " cannot be opened: " + h5::last_error());
  Handle type(H5Aget_type(attr.get()));
  Handle space(H5Aget_space(attr.get()));
  if (!type.valid() || !space.valid()) throw bad_input(f.path(), what + " cannot be read: " + h5::last_error());
  const H5S_class_t sclass = H5Sget_simple_extent_type(space.get());
  if (sclass == H5S_NULL) return std::vector<std::string>{};
  if (sclass != H5S_SCALAR && H5Sget_simple_extent_ndims(space.get()) != 1)
    throw bad_input(f.path(), what + " must be a scalar or a list");
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0 || static_cast<std::uint64_t>(points) > kMaxListEntries)
    throw bad_input(f.path(), what + " has an invalid number of entries");
  const auto n = static_cast<std::size_t>(points);
  if (n == 0) return std::vector<std::string>{};
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;

  std::vector<std::string> out;
  out.reserve(n);
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> ptrs(n, nullptr);
    if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0)
      throw bad_input(f.path(), what + " cannot be read: " + h5::last_error());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#else
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#endif
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0 || size > kMaxAttributeBytes / n) throw bad_input(f.path(), what + " is too large");
  std::vector<char> buf(n * size);
  if (H5Aread(attr.get(), type.get(), buf.data()) < 0)
    throw bad_input(f.path(), what + " cannot be read: " + h5::last_error());
  const H5T_str_t pad = H5Tget_strpad(type.get());
  for (std::size_t i = 0; i < n; ++i) out.push_back(fixed_text(buf.data() + i * size, size, pad));
  return out;
}

bool has_attribute(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

}  // namespace

std::optional<std::vector<std::string>> read_string_list(const H5File& f, hid_t obj, const std::string& name,
                                                         std::string_view where) {
  std::lock_guard lock(h5::mutex());
  auto not_text = [&](const std::string& n) {
    return bad_input(f.path(), std::string(where) + ": attribute " + q(n) + " is not a list of names");
  };
  if (has_attribute(obj, name)) {
    auto v = read_text_attribute(f, obj, name, where);
    if (!v) throw not_text(name);
    return v;
  }
  if (!has_attribute(obj, name + "0")) return std::nullopt;
  std::vector<std::string> all;
  for (int k = 0; k < kMaxAttributeChunks; ++k) {
    const std::string part = name + std::to_string(k);
    if (!has_attribute(obj, part)) break;
    auto v = read_text_attribute(f, obj, part, where);
    if (!v) throw not_text(part);
    if (all.size() + v->size() > kMaxListEntries) throw bad_input(f.path(), std::string(where) + ": " + q(name) + " lists too many names");
    for (auto& s : *v) all.push_back(std::move(s));
  }
  return all;
}

std::optional<std::string> read_string(const H5File& f, hid_t obj, const std::string& name, std::string_view where) {
  std::lock_guard lock(h5::mutex());
  if (!has_attribute(obj, name)) return std::nullopt;
  auto v = read_text_attribute(f, obj, name, where);
  if (!v || v->size() != 1) return std::nullopt;
  return std::move(v->front());
}

}  // namespace paramscope::io::keras
