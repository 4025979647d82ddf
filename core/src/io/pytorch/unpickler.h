// A restricted unpickler: it reads pickle protocols 0-5 as Python and torch.save write them and
// builds plain Values. It never imports or calls anything: globals are names, refused outright when
// they name something that would run code, and calls are handed to PickleHooks, which interpret the
// few torch constructors they know as data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/pytorch/pickle_value.h"

namespace paramscope::io::pytorch {

class PickleHooks {
public:
  virtual ~PickleHooks() = default;
  /// PERSID / BINPERSID: torch.save's references to storages (and legacy module classes).
  virtual Value* persistent_load(Value* pid) = 0;
  /// REDUCE, INST, OBJ: callable(*args). Must not run anything; returns data or an opaque Object.
  virtual Value* call(Value* callable, Value* args) = 0;
  /// NEWOBJ, NEWOBJ_EX: cls.__new__(cls, *args).
  virtual Value* instantiate(Value* cls, Value* args) = 0;
};

class Unpickler {
public:
  /// Reads one pickle of data starting at start. where names it in errors ("archive/data.pkl").
  Unpickler(std::span<const std::byte> data, std::uint64_t start, std::string where, std::filesystem::path file,
            Arena& arena, PickleHooks& hooks);

  /// Runs to the STOP opcode and returns the pickled object.
  /// throws Error(BadInput) naming the file, the pickle and the offset for malformed input or a
  /// global that would run code, Error(Unsupported) for features torch.save never uses.
  Value* load();
  /// Offset just past the STOP opcode (legacy files hold several pickles back to back).
  std::uint64_t position() const noexcept { return pos_; }

  static constexpr std::size_t kMaxStack = 1'000'000;
  static constexpr std::size_t kMaxMemo = 4'000'000;

private:
  [[noreturn]] void fail(const std::string& what) const;
  std::span<const std::byte> take(std::uint64_t n, const char* what);
  std::uint8_t u8(const char* what);
  template <class T>
  T le(const char* what);
  std::string_view line(const char* what);

  std::size_t frame_base() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
  void push(Value* v);
  Value* pop();
  Value* top();
  std::vector<Value*> pop_mark();
  Value* make_global(std::string_view module, std::string_view name);
  Value* make_tuple(std::vector<Value*> items);
  Value* parse_int_line(std::string_view text);
  Value* make_long(std::span<const std::byte> le_bytes);
  void memo_put(std::uint64_t index);
  Value* memo_get(std::uint64_t index);
  void append_items(Value* target, std::span<Value* const> items);
  void set_items(Value* target, std::span<Value* const> items);

  std::span<const std::byte> data_;
  std::uint64_t pos_;
  std::uint64_t op_pos_ = 0;
  std::string where_;
  std::filesystem::path file_;
  Arena& arena_;
  PickleHooks& hooks_;
  std::vector<Value*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value*> memo_;
};

}  // namespace paramscope::io::pytorch
