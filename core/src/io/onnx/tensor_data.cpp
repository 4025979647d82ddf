#include "io/onnx/tensor_data.h"

#include <cstring>

#include "io/onnx/onnx_types.h"
#include "paramscope/error.h"
#include "tensor/tensor_source.h"
#include "util/mapped_file.h"

namespace paramscope::io::onnx {
namespace {

enum class Field { None, Float, Int32, Int64, Double, Uint64 };

const char* field_name(Field f) {
  switch (f) {
    case Field::None: return "no typed field";
    case Field::Float: return "float_data";
    case Field::Int32: return "int32_data";
    case Field::Int64: return "int64_data";
    case Field::Double: return "double_data";
    case Field::Uint64: return "uint64_data";
  }
  return "?";
}

// onnx.proto says which typed field holds each data type's values.
Field field_for(DType d) {
  switch (d) {
    case DType::F32: return Field::Float;
    case DType::F64: return Field::Double;
    case DType::I64: return Field::Int64;
    case DType::U32: case DType::U64: return Field::Uint64;
    default: return Field::Int32;  // int32, int16, int8, uint16, uint8, bool, float16, bfloat16, float8
  }
}

std::uint64_t total(const std::vector<Span>& runs) {
  std::uint64_t n = 0;
  for (const auto& r : runs) n += r.size;
  return n;
}

// Concatenates runs of fixed-size little-endian elements (float_data, double_data).
std::vector<std::byte> concat(std::span<const std::byte> file, const std::vector<Span>& runs) {
  std::vector<std::byte> out;
  out.reserve(total(runs));
  for (const auto& r : runs) {
    const auto b = file.subspan(r.offset, r.size);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

template <class T>
void put(std::vector<std::byte>& out, std::size_t i, T v) {
  std::memcpy(out.data() + i * sizeof(T), &v, sizeof(T));
}

// Lowest and highest int32_data value each type accepts. Float16, bfloat16 and float8 are bit
// patterns; writers store them zero-extended (onnx.helper) or sign-extended, so both are taken.
std::pair<std::int64_t, std::int64_t> int32_range(DType d) {
  switch (d) {
    case DType::I8: return {-128, 127};
    case DType::U8: return {0, 255};
    case DType::I16: return {-32768, 32767};
    case DType::U16: return {0, 65535};
    case DType::BOOL: return {0, 1};
    case DType::F16: case DType::BF16: return {-32768, 65535};
    case DType::F8_E4M3: case DType::F8_E5M2: return {-128, 255};
    default: return {INT32_MIN, INT32_MAX};
  }
}

std::vector<std::uint64_t> decode_runs(ModelData& m, const std::vector<Span>& runs, const std::string& context) {
  std::vector<std::uint64_t> raw;
  for (const auto& r : runs) {
    auto part = decode_varints(m.model->bytes(), r, m.model->path(), context);
    raw.insert(raw.end(), part.begin(), part.end());
  }
  return raw;
}

// Stores decoded varints as dtype elements, checking each fits.
std::vector<std::byte> int_elements(ModelData& m, Field f, const std::vector<std::uint64_t>& raw, DType dtype,
                                    std::int64_t numel, const std::string& context) {
  const auto& path = m.model->path();
  if (raw.size() != static_cast<std::uint64_t>(numel))
    throw bad_input(path, context + ": " + field_name(f) + " holds " + std::to_string(raw.size()) + " values, " +
                              std::to_string(numel) + " expected");
  const std::size_t elem = dtype_info(dtype).block_bytes;
  std::vector<std::byte> out(raw.size() * elem);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const std::uint64_t v = raw[i];
    if (f == Field::Int64) {
      put(out, i, static_cast<std::int64_t>(v));
    } else if (f == Field::Uint64) {
      if (dtype == DType::U32) {
        if (v > UINT32_MAX) throw bad_input(path, context + ": uint64_data value " + std::to_string(v) + " does not fit UINT32");
        put(out, i, static_cast<std::uint32_t>(v));
      } else {
        put(out, i, v);
      }
    } else {
      // int32 varints are sign-extended to 64 bits; protobuf keeps the low 32.
      const std::int64_t x = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
      const auto [lo, hi] = int32_range(dtype);
      if (x < lo || x > hi)
        throw bad_input(path, context + ": int32_data value " + std::to_string(x) + " is out of range for " +
                                  std::string(dtype_name(dtype)));
      switch (elem) {
        case 1: put(out, i, static_cast<std::uint8_t>(x)); break;
        case 2: put(out, i, static_cast<std::uint16_t>(x)); break;
        default: put(out, i, static_cast<std::int32_t>(x)); break;
      }
    }
  }
  return out;
}

std::shared_ptr<const detail::TensorSource> fixed_source(ModelData& m, Field f, const std::vector<Span>& runs, DType dtype,
                                                         std::int64_t numel, const std::string& context) {
  const auto& path = m.model->path();
  const std::uint64_t width = f == Field::Float ? 4 : 8;
  for (const auto& r : runs)
    if (r.size % width != 0)
      throw bad_input(path, context + ": " + field_name(f) + " holds " + std::to_string(r.size) +
                                " bytes, not a whole number of " + std::to_string(width) + "-byte values");
  const std::uint64_t count = total(runs) / width;
  if (count != static_cast<std::uint64_t>(numel))
    throw bad_input(path, context + ": " + field_name(f) + " holds " + std::to_string(count) + " values, " +
                              std::to_string(numel) + " expected");
  if (runs.size() == 1) return detail::make_mapped_source(m.model, runs[0].offset, dtype, numel);  // packed, in place
  return detail::make_owned_source(concat(m.model->bytes(), runs), dtype, path.string());
}

}  // namespace

BuiltTensor build_tensor(ModelData& m, const TensorProtoView& t, const std::string& name, const std::string& context) {
  const auto& path = m.model->path();
  auto bad = [&](const std::string& what) { return bad_input(path, context + ": " + what); };
  if (!t.data_type || *t.data_type == UNDEFINED) throw bad("data_type is missing or UNDEFINED");
  const Shape shape(t.dims.begin(), t.dims.end());
  const auto n = checked_numel(shape);
  if (!n) throw bad("shape " + shape_string(shape) + " overflows");

  const auto dtype = dtype_from_onnx(*t.data_type);
  if (!dtype) {
    if (*t.data_type == STRING) return {std::nullopt, "STRING tensor: text, not numbers"};
    return {std::nullopt, onnx_type_name(*t.data_type) + " tensors are not supported"};
  }
  if (t.has_segment) return {std::nullopt, "segmented TensorProto (segment field) is not supported"};
  const auto nbytes = storage_bytes(*dtype, static_cast<std::uint64_t>(*n));
  if (!nbytes) throw bad("shape " + shape_string(shape) + " overflows");
  const std::string what = onnx_type_name(*t.data_type) + " " + shape_string(shape);

  std::vector<std::pair<Field, const std::vector<Span>*>> typed;
  for (const auto& [f, runs] : {std::pair{Field::Float, &t.float_data}, std::pair{Field::Int32, &t.int32_data},
                                std::pair{Field::Int64, &t.int64_data}, std::pair{Field::Double, &t.double_data},
                                std::pair{Field::Uint64, &t.uint64_data}})
    if (!runs->empty()) typed.emplace_back(f, runs);
  if (t.has_string_data) throw bad("string_data holds values, but data_type is " + onnx_type_name(*t.data_type));
  if (typed.size() > 1)
    throw bad("values in both " + std::string(field_name(typed[0].first)) + " and " + field_name(typed[1].first));

  std::shared_ptr<const detail::TensorSource> src;
  if (t.data_location == 1) {
    if (t.raw_data || !typed.empty()) throw bad("data_location is EXTERNAL but the tensor also holds values in the model");
    src = m.external.source(context, t.external_data, *dtype, *n, *nbytes);
  } else if (t.data_location != 0) {
    throw bad("data_location " + std::to_string(t.data_location) + " is neither DEFAULT (0) nor EXTERNAL (1)");
  } else if (t.raw_data) {
    if (!typed.empty()) throw bad("values in both raw_data and " + std::string(field_name(typed[0].first)));
    if (t.raw_data->size != *nbytes)
      throw bad("raw_data holds " + std::to_string(t.raw_data->size) + " bytes, " + what + " needs " + std::to_string(*nbytes));
    src = detail::make_mapped_source(m.model, t.raw_data->offset, *dtype, *n);
  } else if (!typed.empty()) {
    const auto [f, runs] = typed[0];
    if (f != field_for(*dtype))
      throw bad("values are in " + std::string(field_name(f)) + ", which does not hold " +
                onnx_type_name(*t.data_type) + " (expected " + field_name(field_for(*dtype)) + ")");
    if (f == Field::Float || f == Field::Double) src = fixed_source(m, f, *runs, *dtype, *n, context);
    else src = detail::make_owned_source(int_elements(m, f, decode_runs(m, *runs, context), *dtype, *n, context), *dtype, path.string());
  } else if (*n == 0) {
    src = detail::make_owned_source({}, *dtype, path.string());
  } else {
    throw bad("holds no values for " + what + " (no raw_data, typed data or external data)");
  }
  return {Tensor(name, *dtype, shape, std::move(src)), {}};
}

Tensor float_tensor(ModelData& m, const std::vector<Span>& runs, const std::string& name, bool scalar,
                    const std::string& context) {
  const std::uint64_t bytes = total(runs);
  if (bytes % 4 != 0) throw bad_input(m.model->path(), context + ": floats are not whole 4-byte values");
  const auto n = static_cast<std::int64_t>(bytes / 4);
  if (scalar && n != 1) throw bad_input(m.model->path(), context + ": value_float holds " + std::to_string(n) + " values");
  auto src = fixed_source(m, Field::Float, runs, DType::F32, n, context);
  return Tensor(name, DType::F32, scalar ? Shape{} : Shape{n}, std::move(src));
}

Tensor int_tensor(ModelData& m, const std::vector<Span>& runs, const std::string& name, bool scalar,
                  const std::string& context) {
  const auto raw = decode_runs(m, runs, context);
  const auto n = static_cast<std::int64_t>(raw.size());
  if (scalar && n != 1) throw bad_input(m.model->path(), context + ": value_int holds " + std::to_string(n) + " values");
  auto bytes = int_elements(m, Field::Int64, raw, DType::I64, n, context);
  return Tensor(name, DType::I64, scalar ? Shape{} : Shape{n},
                detail::make_owned_source(std::move(bytes), DType::I64, m.model->path().string()));
}

}  // namespace paramscope::io::onnx
