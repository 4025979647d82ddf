// ONNX external data: tensor bytes kept in files beside the model (TensorProto.data_location =
// EXTERNAL, external_data keys location / offset / length). Each file is mapped once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "paramscope/dtype.h"
#include "tensor/tensor_source.h"

namespace paramscope::io::onnx {

class ExternalFiles {
public:
  /// model: the .onnx file as the user named it; locations resolve against its folder.
  explicit ExternalFiles(std::filesystem::path model);

  /// The source of a tensor of dtype x numel (nbytes) stored externally as entries describe.
  /// throws Error(BadInput) naming the model and context if the location is absolute or leaves
  /// the model's folder, or offset/length are malformed, disagree with dtype x shape or pass the
  /// end of the file; Error(Io) if the file is missing or cannot be mapped.
  std::shared_ptr<const detail::TensorSource> source(const std::string& context,
                                                     const std::vector<std::pair<std::string, std::string>>& entries,
                                                     DType dtype, std::int64_t numel, std::uint64_t nbytes);

  /// The external files used so far, in order of first use.
  const std::vector<std::filesystem::path>& files() const noexcept { return order_; }

private:
  std::shared_ptr<const MappedFile> map(const std::string& context, const std::string& location);

  std::filesystem::path model_;
  std::filesystem::path dir_;
  std::map<std::string, std::shared_ptr<const MappedFile>> mapped_;
  std::vector<std::filesystem::path> order_;
};

}  // namespace paramscope::io::onnx
