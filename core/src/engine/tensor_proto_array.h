// ONNX TensorProto messages (initializers, Constant values, the backend tests' .pb files) as
// Arrays.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

#include "paramscope/array.h"

namespace onnx {
class TensorProto;
}
namespace google::protobuf {
class MessageLite;
}

namespace paramscope::io::onnx {
class ExternalFiles;
}

namespace paramscope::engine {

/// The values of t: raw_data (little-endian) or the typed repeated fields (onnx.proto's rules:
/// int32_data holds INT32/INT16/INT8/UINT16/UINT8/BOOL/FLOAT16/BFLOAT16, and so on), or external
/// data through `external` (which keeps locations inside the model's folder and checks offset and
/// length; nullptr refuses external data). F16/BF16 stay 16-bit codes.
/// Errors name `file`, then `context` ("initializer 'fc.weight'").
/// throws Error(BadInput) if the data does not match the dims; Error(Unsupported) for STRING,
/// COMPLEX and float8 types and segmented tensors; Error(Io) for unreadable external data.
Array array_from_tensor_proto(const ::onnx::TensorProto& t, const std::filesystem::path& file,
                              const std::string& context, io::onnx::ExternalFiles* external);

/// Reads a file holding one serialized TensorProto (input_0.pb, ...); sets *name to its name.
/// External data resolves against the file's folder.
/// throws Error(Io), Error(BadInput) naming the file.
Array read_tensor_proto_file(const std::filesystem::path& file, std::string* name = nullptr);

/// Parses message from the whole of bytes, allowing messages up to protobuf's 2 GB limit. false
/// if the bytes are not a valid encoding of the message (or there are more than 2 GB).
bool parse_protobuf(std::span<const std::byte> bytes, ::google::protobuf::MessageLite& message);

}  // namespace paramscope::engine
