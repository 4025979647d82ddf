// A bounds-checked walk over one protobuf message of a mapped ONNX file. It never copies bytes:
// length-delimited fields come back as spans of the file, so raw_data can be mapped in place and
// a model with weights in the protobuf never needs a whole-message parse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace google::protobuf::io {
class CodedInputStream;
}

namespace paramscope::io::onnx {

/// A byte range of the file.
struct Span {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

enum class WireType : std::uint8_t { Varint = 0, Fixed64 = 1, Len = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 };

class WireReader {
public:
  /// Walks the message at msg of file (the whole mapped file, at most 2 GiB). context names the
  /// message in errors ("graph.initializer #3").
  WireReader(std::span<const std::byte> file, Span msg, const std::filesystem::path& path, std::string context);
  ~WireReader();
  WireReader(const WireReader&) = delete;
  WireReader& operator=(const WireReader&) = delete;

  /// Advances to the next field; false at the end of the message.
  /// throws Error(BadInput) on an invalid tag or wire type (groups included: ONNX has none).
  bool next();
  std::uint32_t field() const noexcept { return field_; }
  WireType type() const noexcept { return type_; }

  std::uint64_t varint();
  std::uint32_t fixed32();
  std::uint64_t fixed64();
  /// A length-delimited field's payload, checked to lie inside this message.
  Span len();
  std::string_view string();
  /// Skips the current field, whatever its type.
  void skip();
  /// The encoded elements of a repeated scalar field: a packed run (Len) or one unpacked element
  /// of wire type element; either way a span holding back-to-back encoded elements.
  Span elements(WireType element);

  std::span<const std::byte> bytes(Span s) const noexcept { return file_.subspan(s.offset, s.size); }
  const std::string& context() const noexcept { return context_; }
  [[noreturn]] void fail(const std::string& what) const;

private:
  void expect(WireType t, std::string_view name) const;
  std::uint64_t position() const noexcept;

  std::span<const std::byte> file_;
  Span msg_;
  const std::filesystem::path& path_;
  std::string context_;
  std::unique_ptr<google::protobuf::io::CodedInputStream> in_;
  std::uint32_t field_ = 0;
  WireType type_ = WireType::Varint;
};

/// Decodes a span of back-to-back varints (a packed run). throws Error(BadInput) naming context
/// if a varint is malformed or cut off.
std::vector<std::uint64_t> decode_varints(std::span<const std::byte> file, Span run,
                                          const std::filesystem::path& path, const std::string& context);

}  // namespace paramscope::io::onnx
