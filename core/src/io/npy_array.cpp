// NPY (numpy/lib/format.py): "\x93NUMPY", version, header length, then a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } and the raw data. The dict is read
// by a small parser that accepts exactly the literals numpy writes (strings, True/False, tuples
// of integers), never by evaluating anything.
#include "paramscope/npy.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "engine/broadcast.h"
#include "io/zip_archive.h"
#include "paramscope/error.h"
#include "paramscope/writers.h"
#include "util/mapped_file.h"
#include "util/printable.h"

namespace paramscope {
namespace {

constexpr std::size_t kMaxRank = 64;

struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<std::int64_t>> shape;
};

class DictParser {
 public:
  DictParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  Header parse() {
    Header h;
    skip_ws();
    expect('{');
    skip_ws();
    while (peek() != '}') {
      const std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (h.descr) fail("the key 'descr' appears twice");
        if (peek() == '[') throw unsupported(name_, "structured dtypes (a list in 'descr') are not supported");
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        if (h.fortran_order) fail("the key 'fortran_order' appears twice");
        h.fortran_order = boolean();
      } else if (key == "shape") {
        if (h.shape) fail("the key 'shape' appears twice");
        h.shape = tuple();
      } else {
        fail("the header has an unknown key " + in_quotes(key));
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != '}') {
        fail("expected ',' or '}' at header position " + std::to_string(pos_));
      }
    }
    ++pos_;
    skip_ws();
    if (pos_ != s_.size()) fail("the header has text after its dictionary");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw bad_input(name_, "NPY header: " + what); }
  char peek() const {
    if (pos_ >= s_.size()) fail("the header ends inside its dictionary");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "' at header position " + std::to_string(pos_));
    ++pos_;
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a string at header position " + std::to_string(pos_));
    const std::size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("a string in the header is not closed");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    if (out.find('\\') != std::string::npos) fail("escapes in header strings are not supported");
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (s_.substr(pos_, 5) == "False") return pos_ += 5, false;
    fail("'fortran_order' must be True or False");
  }
  std::vector<std::int64_t> tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    skip_ws();
    while (peek() != ')') {
      if (peek() < '0' || peek() > '9') fail("shape entries must be non-negative integers");
      std::int64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        const int digit = s_[pos_++] - '0';
        if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("a shape entry overflows 64 bits");
        v = v * 10 + digit;
      }
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2's long literals
      dims.push_back(v);
      if (dims.size() > kMaxRank) fail("the shape has more than " + std::to_string(kMaxRank) + " dimensions");
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++pos_;
    return dims;
  }

  std::string_view s_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

struct Descr {
  DType type;
  bool big_endian;
};

Descr parse_descr(const std::string& d, const std::string& name) {
  if (d.size() < 2) throw bad_input(name, "NPY dtype " + in_quotes(d) + " is malformed");
  const char order = d[0];
  const std::string code = order == '<' || order == '>' || order == '|' || order == '=' ? d.substr(1) : d;
  static const std::pair<const char*, DType> kTypes[] = {{"f2", DType::F16}, {"f4", DType::F32}, {"f8", DType::F64},
                                                         {"i1", DType::I8},  {"i2", DType::I16}, {"i4", DType::I32},
                                                         {"i8", DType::I64}, {"u1", DType::U8},  {"u2", DType::U16},
                                                         {"u4", DType::U32}, {"u8", DType::U64}, {"b1", DType::BOOL}};
  const auto it = std::find_if(std::begin(kTypes), std::end(kTypes), [&](const auto& p) { return code == p.first; });
  if (it == std::end(kTypes))
    throw unsupported(name,
                      "NPY dtype " + in_quotes(d) + " is not supported (f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 are)");
  const bool one_byte = dtype_info(it->second).block_bytes == 1;
  if (order == '|' && !one_byte)
    throw bad_input(name, "NPY dtype " + in_quotes(d) + " has no byte order for a multi-byte type");
  return {it->second, order == '>' && !one_byte};
}

void byteswap_all(Array& a) {
  const std::size_t e = dtype_info(a.type()).block_bytes;
  for (std::size_t i = 0; i < a.byte_size(); i += e) std::reverse(a.bytes() + i, a.bytes() + i + e);
}

// Fortran (column-major) data into row-major order.
Array from_fortran(const Array& f) {
  const auto& shape = f.shape();
  engine::Dims strides(shape.size(), 1);
  for (std::size_t i = 1; i < shape.size(); ++i) strides[i] = strides[i - 1] * shape[i - 1];
  Array out(f.type(), shape);
  const std::size_t e = dtype_info(f.type()).block_bytes;
  const engine::StridedWalker w(shape, {engine::contiguous_strides(shape), strides});
  const std::int64_t n = w.run(), s = w.run_stride(1);
  w.for_each([&](const std::int64_t* off) {
    for (std::int64_t i = 0; i < n; ++i)
      std::memcpy(out.bytes() + static_cast<std::size_t>(off[0] + i) * e,
                  f.bytes() + static_cast<std::size_t>(off[1] + i * s) * e, e);
  });
  return out;
}

std::uint32_t read_le(std::span<const std::byte> b, std::size_t at, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = v << 8 | static_cast<std::uint8_t>(b[at + i]);
  return v;
}

}  // namespace

Array parse_npy(std::span<const std::byte> bytes, const std::string& name) {
  static constexpr char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    throw bad_input(name, "is not an NPY file (no \\x93NUMPY magic)");
  const auto major = static_cast<std::uint8_t>(bytes[6]), minor = static_cast<std::uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    throw unsupported(name, "NPY format version " + std::to_string(major) + "." + std::to_string(minor) +
                                " is not supported (1.0, 2.0 and 3.0 are)");
  const std::size_t prefix = major == 1 ? 10 : 12;
  if (bytes.size() < prefix) throw bad_input(name, "is truncated inside its NPY header length");
  const std::size_t header_len = read_le(bytes, 8, prefix - 8);
  if (header_len > bytes.size() - prefix)
    throw bad_input(name, "NPY header length " + std::to_string(header_len) + " passes the end of the file (" +
                              std::to_string(bytes.size()) + " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);
  const Header h = DictParser(text, name).parse();
  if (!h.descr || !h.fortran_order || !h.shape)
    throw bad_input(name, std::string("NPY header lacks the key '") +
                              (!h.descr           ? "descr"
                               : !h.fortran_order ? "fortran_order"
                                                  : "shape") +
                              "'");
  const Descr d = parse_descr(*h.descr, name);
  Array a;
  try {
    a = Array(d.type, *h.shape);
  } catch (const Error& e) {
    throw bad_input(name, std::string("NPY shape: ") + e.what());
  }
  const std::size_t offset = prefix + header_len;
  const std::size_t have = bytes.size() - offset, need = a.byte_size();
  const std::string what = std::string(dtype_name(d.type)) + " " + shape_string(a.shape());
  if (have < need)
    throw bad_input(name, "is truncated: its data holds " + std::to_string(have) + " bytes, " + what + " needs " +
                              std::to_string(need));
  if (have > need)
    throw bad_input(name, "has " + std::to_string(have - need) + " bytes after the data of its " + what + " array");
  if (need) std::memcpy(a.bytes(), bytes.data() + offset, need);
  if (d.big_endian) byteswap_all(a);
  if (d.type == DType::BOOL) {
    auto* p = reinterpret_cast<std::uint8_t*>(a.bytes());  // any nonzero byte is True, as numpy reads it
    for (std::size_t i = 0; i < need; ++i) p[i] = p[i] != 0;
  }
  return *h.fortran_order && a.rank() > 1 ? from_fortran(a) : a;
}

Array read_npy(const std::filesystem::path& path) {
  const auto f = MappedFile::open(path);
  return parse_npy(f->bytes(), path.string());
}

std::vector<std::pair<std::string, Array>> read_npz(const std::filesystem::path& path) {
  const io::ZipArchive zip(MappedFile::open(path));
  std::vector<std::pair<std::string, Array>> out;
  for (const auto& e : zip.entries()) {
    if (!e.name.empty() && e.name.back() == '/') continue;  // a folder entry
    const std::string member = path.string() + ": member " + in_quotes(e.name);
    if (e.name.size() < 5 || e.name.compare(e.name.size() - 4, 4, ".npy") != 0)
      throw bad_input(path, "member " + in_quotes(e.name) + " is not an .npy array");
    const auto bytes = zip.read(e, std::numeric_limits<std::uint64_t>::max());
    std::string key = e.name.substr(0, e.name.size() - 4);
    if (std::any_of(out.begin(), out.end(), [&](const auto& p) { return p.first == key; }))
      throw bad_input(path, "holds the array " + in_quotes(key) + " twice");
    out.emplace_back(std::move(key), parse_npy(bytes, member));
  }
  return out;
}

void write_npy(const std::filesystem::path& path, const Array& a) {
  write_npy(path,
            TensorToWrite::from_bytes(path.filename().string(), a.type(), Shape(a.shape().begin(), a.shape().end()),
                                      std::span<const std::byte>(a.bytes(), a.byte_size())));
}

}  // namespace paramscope
