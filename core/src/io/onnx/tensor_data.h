// Turns a TensorProtoView into a Tensor whose values stay in the mapped file where they can:
// raw_data and single packed float_data/double_data runs are mapped; varint-encoded fields are
// decoded into memory; external data is mapped from its own file.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/onnx/external_data.h"
#include "io/onnx/tensor_proto.h"
#include "paramscope/tensor.h"

namespace paramscope::io::onnx {

struct ModelData {
  std::shared_ptr<const MappedFile> model;
  ExternalFiles external;
};

/// A tensor, or why it is skipped (a type ParamScope does not read): never both.
struct BuiltTensor {
  std::optional<Tensor> tensor;
  std::string skipped;
};

/// context names the tensor in errors ("initializer 'fc.weight'").
/// throws Error(BadInput) if the TensorProto is inconsistent: missing data_type, shape overflow,
/// values that do not match dtype x shape, values in a field the data type does not use, values
/// out of range for the type (int32_data holding an INT8 of 300), external data problems.
BuiltTensor build_tensor(ModelData& m, const TensorProtoView& t, const std::string& name, const std::string& context);

/// The tensors of Constant's value_float(s) / value_int(s): float32 or int64 elements in runs of
/// encoded elements of the model file. scalar: shape [] (exactly one element), else [n].
Tensor float_tensor(ModelData& m, const std::vector<Span>& runs, const std::string& name, bool scalar,
                    const std::string& context);
Tensor int_tensor(ModelData& m, const std::vector<Span>& runs, const std::string& name, bool scalar,
                  const std::string& context);

}  // namespace paramscope::io::onnx
