#include "engine/tensor_proto_array.h"

#include <bit>
#include <climits>
#include <cstring>
#include <limits>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include "io/onnx/external_data.h"
#include "io/onnx/onnx_types.h"
#include "paramscope/error.h"
#include "tensor/tensor_source.h"
#include "util/mapped_file.h"
#include "util/printable.h"

namespace paramscope::engine {
namespace {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian; so is the host");

namespace ox = io::onnx;

// Which repeated field of TensorProto carries each data type (onnx.proto's comments).
enum class Field { Float, Int32, Int64, Double, Uint64 };

Field field_of(std::int32_t t) {
  switch (t) {
    case ox::FLOAT:
      return Field::Float;
    case ox::DOUBLE:
      return Field::Double;
    case ox::INT64:
      return Field::Int64;
    case ox::UINT32:
    case ox::UINT64:
      return Field::Uint64;
    default:
      return Field::Int32;  // INT32 INT16 INT8 UINT16 UINT8 BOOL FLOAT16 BFLOAT16
  }
}

const char* field_name(Field f) {
  switch (f) {
    case Field::Float:
      return "float_data";
    case Field::Int32:
      return "int32_data";
    case Field::Int64:
      return "int64_data";
    case Field::Double:
      return "double_data";
    case Field::Uint64:
      return "uint64_data";
  }
  return "?";
}

int field_size(const ::onnx::TensorProto& t, Field f) {
  switch (f) {
    case Field::Float:
      return t.float_data_size();
    case Field::Int32:
      return t.int32_data_size();
    case Field::Int64:
      return t.int64_data_size();
    case Field::Double:
      return t.double_data_size();
    case Field::Uint64:
      return t.uint64_data_size();
  }
  return 0;
}

// The range int32_data may hold for a narrower type (16-bit floats as their bit patterns).
std::pair<std::int64_t, std::int64_t> int32_range(DType d) {
  switch (d) {
    case DType::BOOL:
      return {0, 1};
    case DType::I8:
      return {-128, 127};
    case DType::U8:
      return {0, 255};
    case DType::I16:
      return {-32768, 32767};
    case DType::U16:
    case DType::F16:
    case DType::BF16:
      return {0, 65535};
    default:
      return {INT32_MIN, INT32_MAX};
  }
}

template <class T, class Src>
void store_all(Array& a, const Src& src) {
  T* out = reinterpret_cast<T*>(a.bytes());
  for (int i = 0; i < src.size(); ++i) out[i] = static_cast<T>(src.Get(i));
}

}  // namespace

bool parse_protobuf(std::span<const std::byte> bytes, ::google::protobuf::MessageLite& message) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return false;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetTotalBytesLimit(INT_MAX);
  return message.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
}

Array array_from_tensor_proto(const ::onnx::TensorProto& t, const std::filesystem::path& file,
                              const std::string& context, io::onnx::ExternalFiles* external) {
  auto bad = [&](const std::string& what) { return bad_input(file, context + ": " + what); };
  const std::int32_t type = t.data_type();
  if (type == ox::UNDEFINED) throw bad("has no data_type");
  const auto dtype = ox::dtype_from_onnx(type);
  if (!dtype || *dtype == DType::F8_E4M3 || *dtype == DType::F8_E5M2)
    throw unsupported(file, context + ": data type " + ox::onnx_type_name(type) + " is not supported by the engine");
  if (t.has_segment()) throw unsupported(file, context + ": segmented tensors are not supported");

  std::vector<std::int64_t> dims(t.dims().begin(), t.dims().end());
  for (const auto d : dims)
    if (d < 0) throw bad("dimension " + std::to_string(d) + " is negative");
  Array a;
  try {
    a = Array(*dtype, dims);
  } catch (const Error& e) {
    throw bad(e.what());
  }
  const auto n = static_cast<std::uint64_t>(a.size());
  const std::size_t nbytes = a.byte_size();
  const std::string shape_text = std::string(dtype_name(*dtype)) + " " + shape_string(dims);

  const Field field = field_of(type);
  int typed = 0;  // count of values in typed fields
  for (const Field f : {Field::Float, Field::Int32, Field::Int64, Field::Double, Field::Uint64}) {
    const int count = field_size(t, f);
    if (count == 0) continue;
    if (f != field)
      throw bad(std::string("holds values in ") + field_name(f) + ", which data type " + ox::onnx_type_name(type) +
                " does not use");
    typed = count;
  }
  if (t.string_data_size() > 0) throw bad("holds string_data for data type " + ox::onnx_type_name(type));

  const bool is_external = t.data_location() == ::onnx::TensorProto_DataLocation_EXTERNAL;
  const int sources = (is_external ? 1 : 0) + (t.has_raw_data() ? 1 : 0) + (typed > 0 ? 1 : 0);
  if (sources > 1) throw bad("holds its values in more than one place (raw_data, typed fields, external data)");

  auto check_bools = [&] {
    // A bool byte other than 0 or 1 is not a bool; normalise instead of reading it as one.
    auto* p = reinterpret_cast<std::uint8_t*>(a.bytes());
    for (std::uint64_t i = 0; i < n; ++i) p[i] = p[i] != 0;
  };

  if (is_external) {
    if (!external) throw bad("uses external data, which a standalone tensor file cannot");
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& e : t.external_data()) entries.emplace_back(e.key(), e.value());
    const auto src = external->source(context, entries, *dtype, a.size(), nbytes);
    const auto raw = src->raw_bytes();
    if (raw.size() != nbytes) throw bad("external data does not hold " + std::to_string(nbytes) + " bytes");
    if (nbytes) std::memcpy(a.bytes(), raw.data(), nbytes);
    if (*dtype == DType::BOOL) check_bools();
    return a;
  }
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() != nbytes)
      throw bad("raw_data holds " + std::to_string(raw.size()) + " bytes, " + shape_text + " needs " +
                std::to_string(nbytes));
    if (nbytes) std::memcpy(a.bytes(), raw.data(), nbytes);
    if (*dtype == DType::BOOL) check_bools();
    return a;
  }
  if (static_cast<std::uint64_t>(typed) != n)
    throw bad(std::string(field_name(field)) + " holds " + std::to_string(typed) + " values, " + shape_text +
              " needs " + std::to_string(n));
  if (n == 0) return a;
  switch (field) {
    case Field::Float:
      store_all<float>(a, t.float_data());
      break;
    case Field::Double:
      store_all<double>(a, t.double_data());
      break;
    case Field::Int64:
      store_all<std::int64_t>(a, t.int64_data());
      break;
    case Field::Uint64:
      if (*dtype == DType::U32) {
        for (int i = 0; i < t.uint64_data_size(); ++i)
          if (t.uint64_data(i) > UINT32_MAX)
            throw bad("uint64_data value " + std::to_string(t.uint64_data(i)) + " does not fit UINT32");
        store_all<std::uint32_t>(a, t.uint64_data());
      } else {
        store_all<std::uint64_t>(a, t.uint64_data());
      }
      break;
    case Field::Int32: {
      const auto [lo, hi] = int32_range(*dtype);
      for (int i = 0; i < t.int32_data_size(); ++i) {
        const std::int64_t v = t.int32_data(i);
        if (v < lo || v > hi)
          throw bad("int32_data value " + std::to_string(v) + " does not fit " + ox::onnx_type_name(type));
      }
      switch (*dtype) {
        case DType::BOOL:
          store_all<bool>(a, t.int32_data());
          break;
        case DType::I8:
          store_all<std::int8_t>(a, t.int32_data());
          break;
        case DType::U8:
          store_all<std::uint8_t>(a, t.int32_data());
          break;
        case DType::I16:
          store_all<std::int16_t>(a, t.int32_data());
          break;
        case DType::U16:
        case DType::F16:
        case DType::BF16:
          store_all<std::uint16_t>(a, t.int32_data());
          break;
        default:
          store_all<std::int32_t>(a, t.int32_data());
          break;
      }
      break;
    }
  }
  return a;
}

Array read_tensor_proto_file(const std::filesystem::path& file, std::string* name) {
  const auto mapped = MappedFile::open(file);
  ::onnx::TensorProto t;
  if (!parse_protobuf(mapped->bytes(), t)) throw bad_input(file, "is not a serialized ONNX TensorProto");
  io::onnx::ExternalFiles external(file);
  Array a = array_from_tensor_proto(t, file, "tensor " + in_quotes(t.name()), &external);
  if (name) *name = t.name();
  return a;
}

}  // namespace paramscope::engine
