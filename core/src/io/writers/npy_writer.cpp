// NPY format 1.0 / 2.0 (numpy/lib/format.py): magic, version, little-endian header length, a
// Python dict literal padded with spaces and a newline so that the data starts 64-byte aligned,
// laid out exactly as np.save does.
#include "io/writers/write_common.h"
#include "util/atomic_file.h"

namespace paramscope {
namespace {

const char* npy_descr(DType t) {
  switch (t) {
    case DType::BOOL: return "|b1";
    case DType::U8: return "|u1";
    case DType::I8: return "|i1";
    case DType::I16: return "<i2";
    case DType::U16: return "<u2";
    case DType::I32: return "<i4";
    case DType::U32: return "<u4";
    case DType::I64: return "<i8";
    case DType::U64: return "<u8";
    case DType::F16: return "<f2";
    case DType::F32: return "<f4";
    case DType::F64: return "<f8";
    default: return nullptr;
  }
}

}  // namespace

void write_npy(const std::filesystem::path& path, const TensorToWrite& t) {
  const char* descr = npy_descr(t.dtype);
  if (!descr)
    throw usage_error(path.string() + ": numpy has no dtype for " + std::string(dtype_name(t.dtype)) +
                      " (write F32 instead)");
  const std::uint64_t size = detail::checked_plain_size(t, path.string());
  // numpy's own spelling: "(2, 3)", "(5,)", "()".
  std::string pretty = "(";
  for (std::size_t i = 0; i < t.shape.size(); ++i) {
    if (i) pretty += ", ";
    pretty += std::to_string(t.shape[i]);
  }
  if (t.shape.size() == 1) pretty += ",";
  pretty += ")";
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + pretty + ", }";
  // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21); doing the
  // same makes our files byte-identical to np.save's.
  if (!t.shape.empty()) dict.append(21 - std::to_string(t.shape[0]).size(), ' ');
  const bool v2 = dict.size() + 12 > 65535;
  const std::size_t prefix = v2 ? 12 : 10;
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';

  std::string head = "\x93NUMPY";
  head += static_cast<char>(v2 ? 2 : 1);
  head += '\0';
  std::uint32_t hl = static_cast<std::uint32_t>(dict.size());
  for (std::size_t i = 0; i < (v2 ? 4u : 2u); ++i) {
    head += static_cast<char>(hl & 0xFF);
    hl >>= 8;
  }
  head += dict;
  AtomicFile out(path);
  out.write(std::as_bytes(std::span(head)));
  detail::ChunkPipeline pipeline([&](std::uint64_t, std::span<const std::byte> b) { out.write(b); });
  pipeline.stream(t, size, 0);
  pipeline.finish();
  out.commit();
}

}  // namespace paramscope
