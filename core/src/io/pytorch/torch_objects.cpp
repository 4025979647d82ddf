// Argument layouts follow torch/_utils.py (_rebuild_tensor, _v2, _v3, _rebuild_parameter*),
// torch/_tensor.py (_rebuild_from_type*) and torch/serialization.py (persistent ids:
// ('storage', storage_type, key, location, numel[, view_metadata]) and legacy ('module', cls, ...)).
#include "io/pytorch/torch_objects.h"

#include <array>
#include <limits>
#include <string_view>

#include "util/printable.h"
#include "paramscope/error.h"
#include "tensor/tensor_source.h"
#include "util/mapped_file.h"

namespace paramscope::io::pytorch {
namespace {

constexpr std::size_t kMaxDims = 64;
constexpr int kMaxCallDepth = 16;

struct TypeInfo {
  std::string_view name;
  std::optional<DType> dtype;
  std::uint32_t elem_size;
  std::string_view unsupported;
};

// Legacy typed storage classes (torch.<X>Storage) and torch dtypes (torch.<x>), with the sizes
// torch._utils._element_size gives them.
constexpr std::array kStorageTypes = {
    TypeInfo{"FloatStorage", DType::F32, 4, ""},        TypeInfo{"DoubleStorage", DType::F64, 8, ""},
    TypeInfo{"HalfStorage", DType::F16, 2, ""},         TypeInfo{"BFloat16Storage", DType::BF16, 2, ""},
    TypeInfo{"LongStorage", DType::I64, 8, ""},         TypeInfo{"IntStorage", DType::I32, 4, ""},
    TypeInfo{"ShortStorage", DType::I16, 2, ""},        TypeInfo{"CharStorage", DType::I8, 1, ""},
    TypeInfo{"ByteStorage", DType::U8, 1, ""},          TypeInfo{"BoolStorage", DType::BOOL, 1, ""},
    TypeInfo{"UntypedStorage", DType::U8, 1, ""},       TypeInfo{"_UntypedStorage", DType::U8, 1, ""},
    TypeInfo{"ComplexFloatStorage", std::nullopt, 8, "complex64"},
    TypeInfo{"ComplexDoubleStorage", std::nullopt, 16, "complex128"},
    TypeInfo{"QInt8Storage", std::nullopt, 1, "quantized qint8"},
    TypeInfo{"QUInt8Storage", std::nullopt, 1, "quantized quint8"},
    TypeInfo{"QInt32Storage", std::nullopt, 4, "quantized qint32"},
    TypeInfo{"QUInt4x2Storage", std::nullopt, 1, "quantized quint4x2"},
    TypeInfo{"QUInt2x4Storage", std::nullopt, 1, "quantized quint2x4"},
};

constexpr std::array kDTypes = {
    TypeInfo{"float32", DType::F32, 4, ""},   TypeInfo{"float", DType::F32, 4, ""},
    TypeInfo{"float64", DType::F64, 8, ""},   TypeInfo{"double", DType::F64, 8, ""},
    TypeInfo{"float16", DType::F16, 2, ""},   TypeInfo{"half", DType::F16, 2, ""},
    TypeInfo{"bfloat16", DType::BF16, 2, ""}, TypeInfo{"int64", DType::I64, 8, ""},
    TypeInfo{"long", DType::I64, 8, ""},      TypeInfo{"int32", DType::I32, 4, ""},
    TypeInfo{"int", DType::I32, 4, ""},       TypeInfo{"int16", DType::I16, 2, ""},
    TypeInfo{"short", DType::I16, 2, ""},     TypeInfo{"int8", DType::I8, 1, ""},
    TypeInfo{"uint8", DType::U8, 1, ""},      TypeInfo{"bool", DType::BOOL, 1, ""},
    TypeInfo{"uint16", DType::U16, 2, ""},    TypeInfo{"uint32", DType::U32, 4, ""},
    TypeInfo{"uint64", DType::U64, 8, ""},    TypeInfo{"float8_e4m3fn", DType::F8_E4M3, 1, ""},
    TypeInfo{"float8_e5m2", DType::F8_E5M2, 1, ""},
    TypeInfo{"complex32", std::nullopt, 4, "complex32"},     TypeInfo{"chalf", std::nullopt, 4, "complex32"},
    TypeInfo{"complex64", std::nullopt, 8, "complex64"},     TypeInfo{"cfloat", std::nullopt, 8, "complex64"},
    TypeInfo{"complex128", std::nullopt, 16, "complex128"},  TypeInfo{"cdouble", std::nullopt, 16, "complex128"},
    TypeInfo{"qint8", std::nullopt, 1, "quantized qint8"},   TypeInfo{"quint8", std::nullopt, 1, "quantized quint8"},
    TypeInfo{"qint32", std::nullopt, 4, "quantized qint32"},
    TypeInfo{"quint4x2", std::nullopt, 1, "quantized quint4x2"},
    TypeInfo{"quint2x4", std::nullopt, 1, "quantized quint2x4"},
    TypeInfo{"float8_e4m3fnuz", std::nullopt, 1, "float8_e4m3fnuz"},
    TypeInfo{"float8_e5m2fnuz", std::nullopt, 1, "float8_e5m2fnuz"},
    TypeInfo{"float8_e8m0fnu", std::nullopt, 1, "float8_e8m0fnu"},
    TypeInfo{"float4_e2m1fn_x2", std::nullopt, 1, "float4_e2m1fn_x2"},
    TypeInfo{"bits8", std::nullopt, 1, "bits8"},  TypeInfo{"bits16", std::nullopt, 2, "bits16"},
    TypeInfo{"bits1x8", std::nullopt, 1, "bits1x8"}, TypeInfo{"bits2x4", std::nullopt, 1, "bits2x4"},
    TypeInfo{"bits4x2", std::nullopt, 1, "bits4x2"},
};

template <std::size_t N>
const TypeInfo* lookup(const std::array<TypeInfo, N>& table, std::string_view name) {
  for (const auto& t : table)
    if (t.name == name) return &t;
  return nullptr;
}

// "torch.FloatStorage", "torch.cuda.HalfStorage" (legacy GPU files), "torch.storage.UntypedStorage".
const TypeInfo* storage_type(const Value* v) {
  if (!v || !v->is(Kind::Global)) return nullptr;
  const std::string_view q = v->text;
  const auto dot = q.rfind('.');
  const auto module = q.substr(0, dot);
  if (module != "torch" && module != "torch.cuda" && module != "torch.storage") return nullptr;
  return lookup(kStorageTypes, q.substr(dot + 1));
}

const TypeInfo* torch_dtype(const Value* v) {
  if (!v || !v->is(Kind::Global) || !std::string_view(v->text).starts_with("torch.")) return nullptr;
  return lookup(kDTypes, std::string_view(v->text).substr(6));
}

Value* arg(const Value* args, std::size_t i) {
  return args && args->is(Kind::Tuple) && i < args->items.size() ? args->items[i] : nullptr;
}

bool is_sequence(const Value* v) { return v && (v->is(Kind::Tuple) || v->is(Kind::List)); }

// A sequence of ints, as sizes and strides are pickled (tuples, or torch.Size turned into one).
std::optional<std::vector<std::int64_t>> int_list(const Value* v, bool non_negative) {
  if (!is_sequence(v) || v->items.size() > kMaxDims) return std::nullopt;
  std::vector<std::int64_t> out;
  for (const Value* x : v->items) {
    if (!x->is(Kind::Int) || (non_negative && x->integer < 0)) return std::nullopt;
    out.push_back(x->integer);
  }
  return out;
}

// latin-1 text (as Python 3 pickles Python 2 / protocol < 3 bytes through _codecs.encode) to bytes.
bool latin1_bytes(std::string_view utf8, std::string& out) {
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if ((c & 0xe0) == 0xc0 && i + 1 < utf8.size()) {
      const unsigned cp = ((c & 0x1fu) << 6) | (static_cast<unsigned char>(utf8[++i]) & 0x3fu);
      if (cp > 0xff) return false;
      out += static_cast<char>(cp);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

TorchObjects::TorchObjects(std::filesystem::path file, Arena& arena) : file_(std::move(file)), arena_(arena) {}

void TorchObjects::fail(const std::string& what) const { throw bad_input(file_, where_ + ": " + what); }

std::optional<std::size_t> TorchObjects::find_storage(const std::string& key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

Value* TorchObjects::persistent_load(Value* pid) {
  if (!pid->is(Kind::Tuple) || pid->items.empty() || !pid->items[0]->is_text())
    fail("persistent id is not a tuple starting with its kind ('storage' or 'module')");
  const auto& items = pid->items;
  const std::string& kind = items[0]->text;
  if (kind == "module") {
    // Legacy files pickle nn.Module classes as ('module', cls, source_file, source).
    if (items.size() < 2 || !items[1]->is(Kind::Global)) fail("'module' persistent id without a class");
    return items[1];
  }
  if (kind != "storage") fail("unknown persistent id kind '" + scalar_text(*items[0]) + "'");
  if (items.size() != 5 && items.size() != 6)
    fail("storage persistent id has " + std::to_string(items.size()) + " fields, expected 5 or 6");
  const TypeInfo* type = storage_type(items[1]);
  if (!type) fail("storage persistent id names '" + scalar_text(*items[1]) + "', not a torch storage type");
  if (!(items[2]->is_text() || items[2]->is(Kind::Int))) fail("storage key is not a string");
  // The key names an archive record: keep it exact (messages print it through scalar_text).
  const std::string raw_key = items[2]->is_text() ? items[2]->text : std::to_string(items[2]->integer);
  const std::string key = scalar_text(*items[2]);
  if (!items[4]->is(Kind::Int) || items[4]->integer < 0) fail("storage '" + key + "' has a negative or non-integer size");
  const std::int64_t numel = items[4]->integer;
  if (numel > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(type->elem_size))
    fail("storage '" + key + "' size " + std::to_string(numel) + " overflows");

  std::size_t index;
  if (auto it = by_key_.find(raw_key); it != by_key_.end()) {
    index = it->second;  // torch keeps the first storage loaded under a key
  } else {
    StorageRecord r;
    r.key = raw_key;
    r.type_name = std::string(type->name);
    r.dtype = type->dtype;
    r.unsupported = std::string(type->unsupported);
    r.elem_size = type->elem_size;
    r.numel = numel;
    r.location = items[3]->is_text() ? items[3]->text : "";
    index = storages_.size();
    storages_.push_back(std::move(r));
    Value* v = arena_.make(Kind::Storage);
    v->integer = static_cast<std::int64_t>(index);
    storage_values_.push_back(v);
    by_key_.emplace(raw_key, index);
  }

  // Legacy view_metadata (view_key, offset, size): a slice of the root storage, in elements.
  const Value* view = items.size() == 6 ? items[5] : nullptr;
  if (!view || view->is(Kind::None)) return storage_values_[index];
  if (!view->is(Kind::Tuple) || view->items.size() != 3 || !view->items[1]->is(Kind::Int) ||
      !view->items[2]->is(Kind::Int))
    fail("storage '" + key + "' has malformed view metadata");
  const std::string view_key = view->items[0]->is_text() ? view->items[0]->text : scalar_text(*view->items[0]);
  if (auto it = by_key_.find(view_key); it != by_key_.end()) return storage_values_[it->second];
  const std::int64_t off = view->items[1]->integer, size = view->items[2]->integer;
  const StorageRecord& root = storages_[index];
  if (off < 0 || size < 0 || off > root.numel || size > root.numel - off)
    fail("storage view '" + printable(view_key) + "' [" + std::to_string(off) + ", +" + std::to_string(size) +
         ") is outside its storage '" + key + "' of " + std::to_string(root.numel) + " elements");
  StorageRecord r = root;
  r.key = view_key;
  r.view_root = index;
  r.view_offset = off;
  r.numel = size;
  const std::size_t vi = storages_.size();
  storages_.push_back(std::move(r));
  Value* v = arena_.make(Kind::Storage);
  v->integer = static_cast<std::int64_t>(vi);
  storage_values_.push_back(v);
  by_key_.emplace(view_key, vi);
  return v;
}

Value* TorchObjects::unsupported_tensor(const std::string& reason, const Value* size) {
  TensorRecord t;
  t.unsupported = reason;
  if (auto s = int_list(size, true)) t.shape = *s;
  Value* v = arena_.make(Kind::Tensor);
  v->integer = static_cast<std::int64_t>(tensors_.size());
  tensors_.push_back(std::move(t));
  return v;
}

Value* TorchObjects::rebuild_tensor(const std::string& fn, const Value* args) {
  const std::size_t min_args = fn == "_rebuild_tensor" ? 4 : fn == "_rebuild_tensor_v2" ? 6 : 7;
  if (!args || args->items.size() < min_args)
    fail("torch._utils." + fn + " needs " + std::to_string(min_args) + " arguments");
  const Value* storage = arg(args, 0);
  if (!storage->is(Kind::Storage)) fail("torch._utils." + fn + ": argument 1 is not a storage");
  const Value* offset = arg(args, 1);
  if (!offset->is(Kind::Int) || offset->integer < 0) fail("torch._utils." + fn + ": storage offset is not a non-negative integer");
  auto shape = int_list(arg(args, 2), true);
  if (!shape) fail("torch._utils." + fn + ": size is not a tuple of at most 64 non-negative integers");
  auto strides = int_list(arg(args, 3), false);
  if (!strides || strides->size() != shape->size())
    fail("torch._utils." + fn + ": stride is not a tuple of " + std::to_string(shape->size()) + " integers");

  const StorageRecord& s = storages_[static_cast<std::size_t>(storage->integer)];
  TensorRecord t;
  t.storage = static_cast<std::size_t>(storage->integer);
  t.shape = std::move(*shape);
  t.strides = std::move(*strides);
  t.storage_offset = offset->integer;
  if (fn == "_rebuild_tensor_v3") {
    // Newer dtypes (float8, uint16...) come as an UntypedStorage plus an explicit torch dtype.
    const TypeInfo* dt = torch_dtype(arg(args, 6));
    if (!dt) fail("torch._utils._rebuild_tensor_v3: '" + scalar_text(*arg(args, 6)) + "' is not a torch dtype");
    if (!dt->dtype) t.unsupported = "dtype " + std::string(dt->unsupported) + " is not supported";
    else t.dtype = *dt->dtype;
  } else if (!s.dtype) {
    t.unsupported = s.unsupported + " tensors are not supported";
  } else {
    t.dtype = *s.dtype;
  }
  if (!checked_numel(t.shape)) fail("torch._utils." + fn + ": size " + shape_string(t.shape) + " overflows");
  Value* v = arena_.make(Kind::Tensor);
  v->integer = static_cast<std::int64_t>(tensors_.size());
  tensors_.push_back(std::move(t));
  return v;
}

Value* TorchObjects::opaque(std::string class_name, Value* args) {
  Value* o = arena_.make(Kind::Object);
  o->text = std::move(class_name);
  o->args = args;
  return o;
}

Value* TorchObjects::call(Value* callable, Value* args) {
  if (!callable->is(Kind::Global)) return opaque(callable->is(Kind::Object) ? callable->text : "?", args);
  return call_global(callable->text, args, 0);
}

Value* TorchObjects::call_global(const std::string& name_in, Value* args, int depth) {
  if (depth > kMaxCallDepth) fail("tensor rebuild calls nest deeper than " + std::to_string(kMaxCallDepth));
  // torch.load maps the module torch.tensor to torch._tensor (pytorch#51633).
  const std::string name = name_in.starts_with("torch.tensor.") ? "torch._tensor." + name_in.substr(13) : name_in;
  Value* a0 = arg(args, 0);

  if (name.starts_with("torch._utils._rebuild_")) {
    const std::string fn = name.substr(13);
    if (fn == "_rebuild_tensor" || fn == "_rebuild_tensor_v2" || fn == "_rebuild_tensor_v3")
      return rebuild_tensor(fn, args);
    if (fn == "_rebuild_parameter" || fn == "_rebuild_parameter_with_state") {
      if (a0 && a0->is(Kind::Tensor)) return a0;
      return opaque(name, args);
    }
    if (fn == "_rebuild_qtensor") return unsupported_tensor("quantized tensors are not supported", arg(args, 2));
    if (fn.find("sparse") != std::string::npos) return unsupported_tensor("sparse tensors are not supported", nullptr);
    if (fn == "_rebuild_meta_tensor_no_storage")
      return unsupported_tensor("meta tensors hold no values", arg(args, 1));
    return unsupported_tensor("tensors rebuilt by torch._utils." + fn + " are not supported", nullptr);
  }
  if (name == "torch._tensor._rebuild_from_type" || name == "torch._tensor._rebuild_from_type_v2") {
    // (func, type, args, state): a Tensor subclass or a tensor with Python attributes.
    const Value* func = arg(args, 0);
    Value* inner = arg(args, 2);
    if (func && func->is(Kind::Global) && inner && inner->is(Kind::Tuple)) return call_global(func->text, inner, depth + 1);
    return opaque(name, args);
  }
  if (name == "torch.nn.parameter.Parameter" && a0 && a0->is(Kind::Tensor)) return a0;
  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "collections.defaultdict" ||
      name == "collections.Counter") {
    Value* d = arena_.make(Kind::Dict);
    if (a0 && a0->is(Kind::Dict) && name != "collections.defaultdict") {
      d->items = a0->items;
    } else if (is_sequence(a0) && name != "collections.defaultdict") {
      for (const Value* kv : a0->items)
        if (is_sequence(kv) && kv->items.size() == 2) d->items.insert(d->items.end(), kv->items.begin(), kv->items.end());
    }
    return d;
  }
  if (name == "builtins.set" || name == "builtins.frozenset" || name == "builtins.list" || name == "builtins.tuple" ||
      name == "torch.Size") {
    Value* s = arena_.make(name == "builtins.list" ? Kind::List
                           : (name == "builtins.tuple" || name == "torch.Size") ? Kind::Tuple
                                                                                 : Kind::Set);
    if (a0 && (is_sequence(a0) || a0->is(Kind::Set))) s->items = a0->items;
    return s;
  }
  if (name == "torch.device") {
    std::string dev = a0 && a0->is_text() ? a0->text : "?";
    if (const Value* idx = arg(args, 1); idx && idx->is(Kind::Int)) dev += ":" + std::to_string(idx->integer);
    return arena_.str(std::move(dev));
  }
  if (name == "_codecs.encode" || name == "builtins.bytes" || name == "builtins.bytearray") {
    // Protocol 2 pickles Python 3 bytes as _codecs.encode(latin-1 text, 'latin1').
    std::string out;
    if (a0 && a0->is(Kind::Bytes)) out = a0->text;
    else if (a0 && a0->is(Kind::Str)) {
      const Value* enc = arg(args, 1);
      const std::string e = enc && enc->is_text() ? enc->text : "utf-8";
      if (e == "latin1" || e == "latin-1" || e == "iso-8859-1" || e == "iso8859-1") {
        if (!latin1_bytes(a0->text, out)) fail(name + ": text is not Latin-1");
      } else {
        out = a0->text;
      }
    } else if (a0 && is_sequence(a0)) {
      for (const Value* b : a0->items)
        if (b->is(Kind::Int)) out += static_cast<char>(b->integer & 0xff);
    }
    return arena_.str(std::move(out), Kind::Bytes);
  }
  if (name == "copyreg._reconstructor") {
    // (cls, base, state): protocol 0/1 instances of new-style classes.
    Value* cls = a0;
    if (cls && cls->is(Kind::Global)) return instantiate(cls, arena_.make(Kind::Tuple));
    return opaque("?", args);
  }
  if (name == "copyreg.__newobj__" || name == "copyreg.__newobj_ex__") {
    Value* cls = a0;
    Value* rest = arena_.make(Kind::Tuple);
    if (name == "copyreg.__newobj__" && args) rest->items.assign(args->items.begin() + (a0 ? 1 : 0), args->items.end());
    if (name == "copyreg.__newobj_ex__" && arg(args, 1) && is_sequence(arg(args, 1))) rest->items = arg(args, 1)->items;
    return cls ? instantiate(cls, rest) : opaque("?", args);
  }
  if (name.starts_with("torch.jit._pickle.")) return a0 ? a0 : arena_.none();
  return opaque(name, args);
}

Value* TorchObjects::instantiate(Value* cls, Value* args) {
  if (!cls->is(Kind::Global)) return opaque("?", args);
  const std::string& name = cls->text;
  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "collections.defaultdict" ||
      name == "collections.Counter")
    return arena_.make(Kind::Dict);
  if (name == "builtins.set" || name == "builtins.frozenset") return arena_.make(Kind::Set);
  if (name == "builtins.list") return arena_.make(Kind::List);
  return opaque(name, args);
}

void TorchObjects::resolve_tensors(bool big_endian) {
  for (auto& t : tensors_) {
    if (!t.unsupported.empty() || !t.storage) continue;
    const StorageRecord& s = storages_[*t.storage];
    const StorageRecord& base = s.view_root ? storages_[*s.view_root] : s;
    if (!base.located) fail("storage '" + printable(s.key) + "' has no data");
    if (!s.dtype) {
      t.unsupported = s.unsupported + " tensors are not supported";
      continue;
    }
    const std::uint64_t elem = dtype_info(t.dtype).block_bytes;
    const std::uint64_t first = base.offset + static_cast<std::uint64_t>(s.view_offset) * s.elem_size;
    // v3 tensors view an untyped (byte) storage: count whole elements of the tensor's dtype.
    const auto available = static_cast<std::int64_t>(s.nbytes() / elem);
    if (numel(t.shape) == 0) {
      t.source = detail::make_mapped_source(base.file, first, t.dtype, 0, big_endian);
      continue;
    }
    try {
      t.source = detail::make_strided_source(base.file, first, available, t.dtype, t.shape, t.strides,
                                             t.storage_offset, big_endian);
    } catch (const Error& e) {
      // make_strided_source names the file; say which storage too.
      std::string what = e.what();
      const std::string prefix = base.file->path().string() + ": ";
      if (what.starts_with(prefix)) what.erase(0, prefix.size());
      fail("storage '" + printable(s.key) + "' (" + s.type_name + ", " + std::to_string(s.numel) + " elements): " + what);
    }
  }
}

}  // namespace paramscope::io::pytorch
