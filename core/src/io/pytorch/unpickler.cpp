// Opcode semantics follow CPython's Lib/pickle.py (_Unpickler) and the opcode table in
// Lib/pickletools.py. The stack is one flat vector with a separate list of mark positions; the
// items above the last mark are Python's current "stack".
#include "io/pytorch/unpickler.h"

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>

#include "util/printable.h"
#include "io/pytorch/safe_globals.h"
#include "paramscope/error.h"

namespace paramscope::io::pytorch {
namespace {

enum Op : std::uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I', BININT = 'J',
  BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R',
  STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a',
  BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i',
  LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  // protocol 2
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  // protocol 3
  BINBYTES = 'B', SHORT_BINBYTES = 'C',
  // protocol 4
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90,
  FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  // protocol 5
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "value";
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp > 0x10ffff) cp = 0xfffd;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// UNICODE's argument is "raw-unicode-escape": \uXXXX and \UXXXXXXXX escapes, other bytes are
// Latin-1 code points.
std::string decode_raw_unicode_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
      const std::size_t n = s[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n <= s.size()) {
        std::uint32_t cp = 0;
        bool ok = true;
        for (std::size_t k = 0; k < n && ok; ++k) {
          const int d = hex_digit(s[i + 2 + k]);
          ok = d >= 0;
          cp = (cp << 4) | static_cast<std::uint32_t>(d < 0 ? 0 : d);
        }
        if (ok) {
          append_utf8(out, cp);
          i += 1 + n;
          continue;
        }
      }
    }
    append_utf8(out, c);
  }
  return out;
}

// STRING's argument is a Python 2 repr: quoted, with backslash escapes (codecs.escape_decode).
bool decode_string_escape(std::string_view s, std::string& out) {
  if (s.size() < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"')) return false;
  s = s.substr(1, s.size() - 2);
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': {
        if (i + 2 >= s.size()) return false;
        const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k) v = v * 8 + (s[++i] - '0');
          out += static_cast<char>(v & 0xff);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Unpickler::Unpickler(std::span<const std::byte> data, std::uint64_t start, std::string where,
                     std::filesystem::path file, Arena& arena, PickleHooks& hooks)
    : data_(data), pos_(start), where_(std::move(where)), file_(std::move(file)), arena_(arena), hooks_(hooks) {}

void Unpickler::fail(const std::string& what) const {
  throw bad_input(file_, where_ + ": " + what + " at offset " + std::to_string(op_pos_));
}

std::span<const std::byte> Unpickler::take(std::uint64_t n, const char* what) {
  if (pos_ > data_.size() || n > data_.size() - pos_)
    fail(fmt::format("truncated: {} needs {} bytes, {} left", what, n, pos_ > data_.size() ? 0 : data_.size() - pos_));
  auto s = data_.subspan(pos_, n);
  pos_ += n;
  return s;
}

std::uint8_t Unpickler::u8(const char* what) { return static_cast<std::uint8_t>(take(1, what)[0]); }

template <class T>
T Unpickler::le(const char* what) {
  const auto b = take(sizeof(T), what);
  std::make_unsigned_t<T> v = 0;
  for (std::size_t i = sizeof(T); i-- > 0;) v = static_cast<decltype(v)>((v << 8) | static_cast<std::uint8_t>(b[i]));
  return static_cast<T>(v);
}

std::string_view Unpickler::line(const char* what) {
  const auto* begin = reinterpret_cast<const char*>(data_.data()) + pos_;
  const std::size_t left = data_.size() - pos_;
  const void* nl = left ? std::memchr(begin, '\n', left) : nullptr;
  if (!nl) fail(std::string("truncated: ") + what + " has no end of line");
  const auto n = static_cast<std::size_t>(static_cast<const char*>(nl) - begin);
  pos_ += n + 1;
  return {begin, n};
}

void Unpickler::push(Value* v) {
  if (stack_.size() >= kMaxStack) fail("pickle stack grows past " + std::to_string(kMaxStack) + " items");
  stack_.push_back(v);
}

Value* Unpickler::pop() {
  if (stack_.size() <= frame_base()) fail("pickle stack underflow");
  Value* v = stack_.back();
  stack_.pop_back();
  return v;
}

Value* Unpickler::top() {
  if (stack_.size() <= frame_base()) fail("pickle stack underflow");
  return stack_.back();
}

std::vector<Value*> Unpickler::pop_mark() {
  if (marks_.empty()) fail("pickle opcode needs a MARK that is not there");
  const std::size_t base = marks_.back();
  marks_.pop_back();
  std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
  stack_.resize(base);
  return items;
}

Value* Unpickler::make_global(std::string_view module, std::string_view name) {
  module = normalise_module(module);
  std::string qualified = std::string(module) + "." + std::string(name);
  if (module.empty() || name.empty()) fail("global '" + printable(qualified) + "' has an empty module or name");
  if (is_dangerous_global(module, name))
    throw bad_input(file_, where_ + ": refusing to load: the pickle calls " + printable(qualified) +
                               ", which would run code (offset " + std::to_string(op_pos_) + ")");
  return arena_.str(std::move(qualified), Kind::Global);
}

Value* Unpickler::make_tuple(std::vector<Value*> items) {
  Value* t = arena_.make(Kind::Tuple);
  t->items = std::move(items);
  return t;
}

Value* Unpickler::parse_int_line(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.back() == 'L') text.remove_suffix(1);  // Python 2 longs: "123L"
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size()) return arena_.integer(v);
  // Beyond 64 bits: keep the digits (only compared, never computed with).
  std::string_view digits = text;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) digits.remove_prefix(1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
    fail("integer argument '" + printable(text, 40) + "' is not a number");
  Value* b = arena_.str(std::string(text), Kind::BigInt);
  b->flag = true;
  return b;
}

Value* Unpickler::make_long(std::span<const std::byte> b) {
  const std::size_t n = b.size();
  if (n == 0) return arena_.integer(0);
  const bool negative = (static_cast<std::uint8_t>(b[n - 1]) & 0x80) != 0;
  // Fits in 64 bits if every byte past the eighth only repeats the sign.
  bool fits = true;
  for (std::size_t i = 8; i < n && fits; ++i) fits = static_cast<std::uint8_t>(b[i]) == (negative ? 0xff : 0x00);
  if (fits && n > 8) fits = ((static_cast<std::uint8_t>(b[7]) & 0x80) != 0) == negative;
  if (!fits) {
    Value* v = arena_.make(Kind::BigInt);
    v->text.assign(reinterpret_cast<const char*>(b.data()), n);
    return v;
  }
  std::uint64_t u = negative ? ~std::uint64_t{0} : 0;
  for (std::size_t i = std::min<std::size_t>(n, 8); i-- > 0;) {
    u = (u << 8) | static_cast<std::uint8_t>(b[i]);
  }
  if (n < 8 && negative) u |= ~std::uint64_t{0} << (8 * n);
  return arena_.integer(static_cast<std::int64_t>(u));
}

void Unpickler::memo_put(std::uint64_t index) {
  Value* v = top();
  if (memo_.size() >= kMaxMemo && !memo_.count(index))
    fail("pickle memo grows past " + std::to_string(kMaxMemo) + " entries");
  memo_[index] = v;
}

Value* Unpickler::memo_get(std::uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail("memo key " + std::to_string(index) + " was never stored");
  return it->second;
}

void Unpickler::append_items(Value* target, std::span<Value* const> items) {
  if (target->is(Kind::List) || target->is(Kind::Object)) {
    target->items.insert(target->items.end(), items.begin(), items.end());
    return;
  }
  fail(std::string("APPEND to a ") + kind_name(target->kind));
}

void Unpickler::set_items(Value* target, std::span<Value* const> items) {
  if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
  if (target->is(Kind::Object)) {
    if (!target->dict) target->dict = arena_.make(Kind::Dict);
    target = target->dict;
  }
  if (!target->is(Kind::Dict)) fail(std::string("SETITEM on a ") + kind_name(target->kind));
  target->items.insert(target->items.end(), items.begin(), items.end());
}

Value* Unpickler::load() {
  for (;;) {
    op_pos_ = pos_;
    const std::uint8_t op = u8("pickle opcode");
    switch (op) {
      case PROTO: {
        const auto v = u8("protocol version");
        if (v > 5) throw unsupported(file_, where_ + ": pickle protocol " + std::to_string(v) + " (newest known is 5)");
        break;
      }
      case FRAME: {
        const auto n = le<std::uint64_t>("frame size");
        if (n > data_.size() - pos_) fail("frame of " + std::to_string(n) + " bytes runs past the end of the pickle");
        break;
      }
      case STOP: {
        if (stack_.empty()) fail("STOP with an empty stack");
        return stack_.back();
      }
      case MARK:
        if (marks_.size() >= kMaxStack) fail("too many MARKs");
        marks_.push_back(stack_.size());
        break;
      case POP:
        if (stack_.size() > frame_base()) stack_.pop_back();
        else pop_mark();
        break;
      case POP_MARK: pop_mark(); break;
      case DUP: push(top()); break;

      case NONE: push(arena_.none()); break;
      case NEWTRUE: push(arena_.boolean(true)); break;
      case NEWFALSE: push(arena_.boolean(false)); break;
      case INT: {
        const auto text = trim(line("INT argument"));
        if (text == "00" || text == "01") push(arena_.boolean(text == "01"));  // protocol 0/1 booleans
        else push(parse_int_line(text));
        break;
      }
      case LONG: push(parse_int_line(line("LONG argument"))); break;
      case BININT: push(arena_.integer(le<std::int32_t>("BININT argument"))); break;
      case BININT1: push(arena_.integer(u8("BININT1 argument"))); break;
      case BININT2: push(arena_.integer(le<std::uint16_t>("BININT2 argument"))); break;
      case LONG1: {
        const auto n = u8("LONG1 size");
        push(make_long(take(n, "LONG1 bytes")));
        break;
      }
      case LONG4: {
        const auto n = le<std::int32_t>("LONG4 size");
        if (n < 0) fail("negative LONG4 size");
        push(make_long(take(static_cast<std::uint64_t>(n), "LONG4 bytes")));
        break;
      }
      case FLOAT: {
        const auto text = trim(line("FLOAT argument"));
        double d = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec != std::errc() || end != text.data() + text.size())
          fail("FLOAT argument '" + printable(text, 40) + "' is not a number");
        Value* v = arena_.make(Kind::Float);
        v->real = d;
        push(v);
        break;
      }
      case BINFLOAT: {
        const auto b = take(8, "BINFLOAT argument");
        std::uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<std::uint8_t>(b[static_cast<std::size_t>(i)]);
        Value* v = arena_.make(Kind::Float);
        v->real = std::bit_cast<double>(u);
        push(v);
        break;
      }

      case STRING: {
        std::string s;
        if (!decode_string_escape(trim(line("STRING argument")), s)) fail("STRING argument is not a quoted string");
        push(arena_.str(std::move(s)));
        break;
      }
      case BINSTRING: {
        const auto n = le<std::int32_t>("BINSTRING size");
        if (n < 0) fail("negative BINSTRING size");
        const auto b = take(static_cast<std::uint64_t>(n), "BINSTRING bytes");
        push(arena_.str(std::string(reinterpret_cast<const char*>(b.data()), b.size())));
        break;
      }
      case SHORT_BINSTRING:
      case SHORT_BINUNICODE:
      case SHORT_BINBYTES: {
        const auto b = take(u8("string size"), "string bytes");
        push(arena_.str(std::string(reinterpret_cast<const char*>(b.data()), b.size()),
                        op == SHORT_BINBYTES ? Kind::Bytes : Kind::Str));
        break;
      }
      case BINUNICODE:
      case BINBYTES: {
        const auto b = take(le<std::uint32_t>("string size"), "string bytes");
        push(arena_.str(std::string(reinterpret_cast<const char*>(b.data()), b.size()),
                        op == BINBYTES ? Kind::Bytes : Kind::Str));
        break;
      }
      case BINUNICODE8:
      case BINBYTES8:
      case BYTEARRAY8: {
        const auto b = take(le<std::uint64_t>("string size"), "string bytes");
        push(arena_.str(std::string(reinterpret_cast<const char*>(b.data()), b.size()),
                        op == BINUNICODE8 ? Kind::Str : Kind::Bytes));
        break;
      }
      case UNICODE: push(arena_.str(decode_raw_unicode_escape(line("UNICODE argument")))); break;

      case EMPTY_LIST: push(arena_.make(Kind::List)); break;
      case EMPTY_DICT: push(arena_.make(Kind::Dict)); break;
      case EMPTY_SET: push(arena_.make(Kind::Set)); break;
      case EMPTY_TUPLE: push(make_tuple({})); break;
      case LIST: {
        Value* l = arena_.make(Kind::List);
        l->items = pop_mark();
        push(l);
        break;
      }
      case TUPLE: push(make_tuple(pop_mark())); break;
      case TUPLE1: {
        Value* a = pop();
        push(make_tuple({a}));
        break;
      }
      case TUPLE2: {
        Value* b = pop();
        Value* a = pop();
        push(make_tuple({a, b}));
        break;
      }
      case TUPLE3: {
        Value* c = pop();
        Value* b = pop();
        Value* a = pop();
        push(make_tuple({a, b, c}));
        break;
      }
      case DICT: {
        auto items = pop_mark();
        if (items.size() % 2 != 0) fail("DICT with an odd number of items");
        Value* d = arena_.make(Kind::Dict);
        d->items = std::move(items);
        push(d);
        break;
      }
      case FROZENSET: {
        Value* s = arena_.make(Kind::Set);
        s->items = pop_mark();
        push(s);
        break;
      }
      case APPEND: {
        Value* v = pop();
        append_items(top(), std::span<Value* const>(&v, 1));
        break;
      }
      case APPENDS: {
        auto items = pop_mark();
        append_items(top(), items);
        break;
      }
      case SETITEM: {
        Value* v = pop();
        Value* k = pop();
        Value* kv[2] = {k, v};
        set_items(top(), kv);
        break;
      }
      case SETITEMS: {
        auto items = pop_mark();
        set_items(top(), items);
        break;
      }
      case ADDITEMS: {
        auto items = pop_mark();
        Value* s = top();
        if (!s->is(Kind::Set)) fail(std::string("ADDITEMS on a ") + kind_name(s->kind));
        s->items.insert(s->items.end(), items.begin(), items.end());
        break;
      }

      case PUT: {
        const auto text = trim(line("PUT argument"));
        std::uint64_t i = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
        if (ec != std::errc() || end != text.data() + text.size()) fail("PUT argument is not a memo index");
        memo_put(i);
        break;
      }
      case BINPUT: memo_put(u8("BINPUT index")); break;
      case LONG_BINPUT: memo_put(le<std::uint32_t>("LONG_BINPUT index")); break;
      case MEMOIZE: memo_put(memo_.size()); break;
      case GET: {
        const auto text = trim(line("GET argument"));
        std::uint64_t i = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
        if (ec != std::errc() || end != text.data() + text.size()) fail("GET argument is not a memo index");
        push(memo_get(i));
        break;
      }
      case BINGET: push(memo_get(u8("BINGET index"))); break;
      case LONG_BINGET: push(memo_get(le<std::uint32_t>("LONG_BINGET index"))); break;

      case GLOBAL: {
        const auto module = line("GLOBAL module");
        const auto name = line("GLOBAL name");
        push(make_global(module, name));
        break;
      }
      case STACK_GLOBAL: {
        Value* name = pop();
        Value* module = pop();
        if (!module->is(Kind::Str) || !name->is(Kind::Str)) fail("STACK_GLOBAL needs two strings");
        push(make_global(module->text, name->text));
        break;
      }
      case INST: {
        const auto module = line("INST module");
        const auto name = line("INST name");
        Value* cls = make_global(module, name);
        push(hooks_.call(cls, make_tuple(pop_mark())));
        break;
      }
      case OBJ: {
        auto items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        Value* cls = items.front();
        items.erase(items.begin());
        push(hooks_.call(cls, make_tuple(std::move(items))));
        break;
      }
      case REDUCE: {
        Value* args = pop();
        Value* callable = pop();
        if (!args->is(Kind::Tuple)) fail(std::string("REDUCE arguments are a ") + kind_name(args->kind) + ", not a tuple");
        push(hooks_.call(callable, args));
        break;
      }
      case NEWOBJ: {
        Value* args = pop();
        Value* cls = pop();
        if (!args->is(Kind::Tuple)) fail(std::string("NEWOBJ arguments are a ") + kind_name(args->kind) + ", not a tuple");
        push(hooks_.instantiate(cls, args));
        break;
      }
      case NEWOBJ_EX: {
        pop();  // keyword arguments
        Value* args = pop();
        Value* cls = pop();
        if (!args->is(Kind::Tuple)) fail(std::string("NEWOBJ_EX arguments are a ") + kind_name(args->kind) + ", not a tuple");
        push(hooks_.instantiate(cls, args));
        break;
      }
      case BUILD: {
        Value* state = pop();
        Value* obj = top();
        // Only objects and dicts keep state (an OrderedDict state_dict carries _metadata); for
        // anything else Python would call __setstate__, which has nothing to tell us.
        if (obj->is(Kind::Object) || obj->is(Kind::Dict)) obj->state = state;
        break;
      }
      case PERSID: push(hooks_.persistent_load(arena_.str(std::string(line("PERSID argument"))))); break;
      case BINPERSID: push(hooks_.persistent_load(pop())); break;

      case EXT1:
      case EXT2:
      case EXT4:
        throw unsupported(file_, where_ + ": the pickle uses the copyreg extension registry (EXT opcodes) at offset " +
                                     std::to_string(op_pos_));
      case NEXT_BUFFER:
      case READONLY_BUFFER:
        throw unsupported(file_, where_ + ": the pickle uses out-of-band buffers (protocol 5) at offset " +
                                     std::to_string(op_pos_));
      default: fail(fmt::format("unknown pickle opcode {:#04x}", op));
    }
  }
}

}  // namespace paramscope::io::pytorch
