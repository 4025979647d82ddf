// torch.save's objects as data: persistent ids become storage records, calls of torch's rebuild
// functions become tensor records (dtype, shape, strides, offset into a storage), and the few
// containers Python rebuilds by calling (OrderedDict, set, torch.Size) become plain values.
// Everything else becomes an opaque Object.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/pytorch/unpickler.h"
#include "paramscope/dtype.h"
#include "paramscope/shape.h"

namespace paramscope {
class MappedFile;
namespace detail {
class TensorSource;
}
}  // namespace paramscope

namespace paramscope::io::pytorch {

struct StorageRecord {
  std::string key;             // the archive entry data/<key>, or the legacy storage key
  std::string type_name;       // "FloatStorage", "UntypedStorage"
  std::optional<DType> dtype;  // element type; nullopt if ParamScope cannot read it
  std::string unsupported;     // why, when dtype is nullopt ("complex64", "quantized qint8")
  std::uint32_t elem_size = 1;
  std::int64_t numel = 0;      // elements of type_name (bytes for UntypedStorage)
  std::string location;        // "cpu", "cuda:0"
  // A legacy storage view: elements [view_offset, view_offset + numel) of storage view_root.
  std::optional<std::size_t> view_root;
  std::int64_t view_offset = 0;
  // Where the bytes are, once the reader has found them.
  std::shared_ptr<const MappedFile> file;
  std::uint64_t offset = 0;
  bool located = false;

  std::uint64_t nbytes() const noexcept { return static_cast<std::uint64_t>(numel) * elem_size; }
};

struct TensorRecord {
  std::optional<std::size_t> storage;
  DType dtype = DType::F32;
  std::string unsupported;  // non-empty: listed by name only (quantized, sparse, complex, meta)
  Shape shape;
  std::vector<std::int64_t> strides;
  std::int64_t storage_offset = 0;
  std::shared_ptr<const detail::TensorSource> source;  // set by resolve_tensors()
};

class TorchObjects final : public PickleHooks {
public:
  TorchObjects(std::filesystem::path file, Arena& arena);

  /// Names the pickle being read in error messages ("archive/data.pkl").
  void set_where(std::string where) { where_ = std::move(where); }

  Value* persistent_load(Value* pid) override;
  Value* call(Value* callable, Value* args) override;
  Value* instantiate(Value* cls, Value* args) override;

  std::vector<StorageRecord>& storages() noexcept { return storages_; }
  const std::vector<TensorRecord>& tensors() const noexcept { return tensors_; }
  std::optional<std::size_t> find_storage(const std::string& key) const;

  /// Creates every readable tensor's source once all its storages are located. big_endian: the
  /// storages hold big-endian elements. throws Error(BadInput) if a view reaches outside its storage.
  void resolve_tensors(bool big_endian);

private:
  [[noreturn]] void fail(const std::string& what) const;
  Value* call_global(const std::string& name, Value* args, int depth);
  Value* rebuild_tensor(const std::string& fn, const Value* args);
  Value* unsupported_tensor(const std::string& reason, const Value* size);
  Value* opaque(std::string class_name, Value* args);

  std::filesystem::path file_;
  Arena& arena_;
  std::string where_ = "pickle";
  std::vector<StorageRecord> storages_;
  std::vector<Value*> storage_values_;
  std::unordered_map<std::string, std::size_t> by_key_;
  std::vector<TensorRecord> tensors_;
};

}  // namespace paramscope::io::pytorch
