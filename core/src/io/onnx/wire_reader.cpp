#include "io/onnx/wire_reader.h"

#include <google/protobuf/io/coded_stream.h>

#include "paramscope/error.h"

namespace paramscope::io::onnx {

namespace pio = google::protobuf::io;

namespace {

std::unique_ptr<pio::CodedInputStream> stream_over(std::span<const std::byte> file, Span s) {
  // The caller guarantees s lies in the file and the file is below 2 GiB, so the size fits int.
  const auto* p = reinterpret_cast<const std::uint8_t*>(file.data()) + s.offset;
  return std::make_unique<pio::CodedInputStream>(p, static_cast<int>(s.size));
}

const char* wire_name(WireType t) {
  switch (t) {
    case WireType::Varint: return "varint";
    case WireType::Fixed64: return "fixed64";
    case WireType::Len: return "length-delimited";
    case WireType::StartGroup: return "start-group";
    case WireType::EndGroup: return "end-group";
    case WireType::Fixed32: return "fixed32";
  }
  return "?";
}

}  // namespace

WireReader::WireReader(std::span<const std::byte> file, Span msg, const std::filesystem::path& path, std::string context)
    : file_(file), msg_(msg), path_(path), context_(std::move(context)), in_(stream_over(file, msg)) {}

WireReader::~WireReader() = default;

std::uint64_t WireReader::position() const noexcept {
  return msg_.offset + static_cast<std::uint64_t>(in_->CurrentPosition());
}

void WireReader::fail(const std::string& what) const {
  throw bad_input(path_, "corrupt protobuf in " + context_ + ": " + what + " (at offset " + std::to_string(position()) + ")");
}

bool WireReader::next() {
  if (static_cast<std::uint64_t>(in_->CurrentPosition()) == msg_.size) return false;
  const std::uint32_t tag = in_->ReadTagNoLastTag();
  if (tag == 0) fail("invalid field tag");
  field_ = tag >> 3;
  const std::uint32_t wt = tag & 7;
  if (field_ == 0) fail("field number 0");
  if (wt > 5) fail("unknown wire type " + std::to_string(wt) + " in field " + std::to_string(field_));
  type_ = static_cast<WireType>(wt);
  if (type_ == WireType::StartGroup || type_ == WireType::EndGroup)
    fail("field " + std::to_string(field_) + " uses the group wire type, which ONNX never writes");
  return true;
}

void WireReader::expect(WireType t, std::string_view name) const {
  if (type_ != t)
    fail("field " + std::to_string(field_) + " (" + std::string(name) + ") has wire type " + wire_name(type_) +
         ", expected " + wire_name(t));
}

std::uint64_t WireReader::varint() {
  expect(WireType::Varint, "varint");
  std::uint64_t v = 0;
  if (!in_->ReadVarint64(&v)) fail("truncated or overlong varint in field " + std::to_string(field_));
  return v;
}

std::uint32_t WireReader::fixed32() {
  expect(WireType::Fixed32, "fixed32");
  std::uint32_t v = 0;
  if (!in_->ReadLittleEndian32(&v)) fail("truncated fixed32 in field " + std::to_string(field_));
  return v;
}

std::uint64_t WireReader::fixed64() {
  expect(WireType::Fixed64, "fixed64");
  std::uint64_t v = 0;
  if (!in_->ReadLittleEndian64(&v)) fail("truncated fixed64 in field " + std::to_string(field_));
  return v;
}

Span WireReader::len() {
  expect(WireType::Len, "length-delimited");
  std::uint64_t n = 0;
  if (!in_->ReadVarint64(&n)) fail("truncated length of field " + std::to_string(field_));
  const std::uint64_t left = msg_.size - static_cast<std::uint64_t>(in_->CurrentPosition());
  if (n > left)
    fail("field " + std::to_string(field_) + " claims " + std::to_string(n) + " bytes but only " +
         std::to_string(left) + " are left in the message");
  const Span s{position(), n};
  in_->Skip(static_cast<int>(n));
  return s;
}

std::string_view WireReader::string() {
  const Span s = len();
  return {reinterpret_cast<const char*>(file_.data() + s.offset), static_cast<std::size_t>(s.size)};
}

void WireReader::skip() {
  switch (type_) {
    case WireType::Varint: (void)varint(); break;
    case WireType::Fixed64: (void)fixed64(); break;
    case WireType::Fixed32: (void)fixed32(); break;
    case WireType::Len: (void)len(); break;
    case WireType::StartGroup:
    case WireType::EndGroup: fail("group wire type");
  }
}

Span WireReader::elements(WireType element) {
  if (type_ == WireType::Len) return len();
  const std::uint64_t start = position();
  if (element == WireType::Varint) (void)varint();
  else if (element == WireType::Fixed32) (void)fixed32();
  else if (element == WireType::Fixed64) (void)fixed64();
  else fail("unexpected element type");
  return {start, position() - start};
}

std::vector<std::uint64_t> decode_varints(std::span<const std::byte> file, Span run, const std::filesystem::path& path,
                                          const std::string& context) {
  std::vector<std::uint64_t> out;
  auto in = stream_over(file, run);
  while (static_cast<std::uint64_t>(in->CurrentPosition()) < run.size) {
    std::uint64_t v = 0;
    if (!in->ReadVarint64(&v))
      throw bad_input(path, "corrupt protobuf in " + context + ": truncated or overlong varint at offset " +
                                std::to_string(run.offset + static_cast<std::uint64_t>(in->CurrentPosition())));
    out.push_back(v);
  }
  return out;
}

}  // namespace paramscope::io::onnx
