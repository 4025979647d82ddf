#include "io/onnx/tensor_proto.h"

#include "paramscope/error.h"

namespace paramscope::io::onnx {
namespace {

// StringStringEntryProto: key = 1, value = 2.
std::pair<std::string, std::string> read_entry(WireReader& parent, Span msg, const std::filesystem::path& path,
                                               std::span<const std::byte> file) {
  WireReader r(file, msg, path, parent.context() + " external_data entry");
  std::pair<std::string, std::string> kv;
  while (r.next()) {
    if (r.field() == 1) kv.first = std::string(r.string());
    else if (r.field() == 2) kv.second = std::string(r.string());
    else r.skip();
  }
  return kv;
}

}  // namespace

TensorProtoView read_tensor_proto(std::span<const std::byte> file, Span msg, const std::filesystem::path& path,
                                  const std::string& context) {
  TensorProtoView t;
  WireReader r(file, msg, path, context);
  while (r.next()) {
    switch (r.field()) {
      case 1: {  // dims: repeated int64, unpacked in proto2 but packed is accepted too
        const Span run = r.elements(WireType::Varint);
        for (const std::uint64_t d : decode_varints(file, run, path, context)) {
          const auto v = static_cast<std::int64_t>(d);
          if (v < 0) r.fail("dimension " + std::to_string(v) + " is negative");
          if (t.dims.size() == kMaxRank) r.fail("more than " + std::to_string(kMaxRank) + " dimensions");
          t.dims.push_back(v);
        }
        break;
      }
      case 2: t.data_type = static_cast<std::int32_t>(r.varint()); break;
      case 3: t.has_segment = true; r.skip(); break;
      case 4: t.float_data.push_back(r.elements(WireType::Fixed32)); break;
      case 5: t.int32_data.push_back(r.elements(WireType::Varint)); break;
      case 6: t.has_string_data = true; r.skip(); break;
      case 7: t.int64_data.push_back(r.elements(WireType::Varint)); break;
      case 8: t.name = std::string(r.string()); break;
      case 9:
        if (t.raw_data) r.fail("raw_data appears twice");
        t.raw_data = r.len();
        break;
      case 10: t.double_data.push_back(r.elements(WireType::Fixed64)); break;
      case 11: t.uint64_data.push_back(r.elements(WireType::Varint)); break;
      case 13: t.external_data.push_back(read_entry(r, r.len(), path, file)); break;
      case 14: t.data_location = static_cast<std::int64_t>(r.varint()); break;
      default: r.skip(); break;
    }
  }
  return t;
}

}  // namespace paramscope::io::onnx
