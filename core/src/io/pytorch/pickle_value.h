// The values a restricted unpickler builds: plain data only. Nothing in a pickle is ever called;
// class instances become opaque Objects that keep their class name, constructor arguments and
// state, and torch's tensor/storage rebuild calls become Tensor and Storage records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace paramscope::io::pytorch {

enum class Kind : std::uint8_t {
  None, Bool, Int, BigInt, Float, Str, Bytes,
  List, Tuple, Dict, Set,
  Global,   ///< a module-level name ("collections.OrderedDict"), never imported
  Object,   ///< an instance of a class the reader does not interpret
  Storage,  ///< a torch storage from a persistent id; index into TorchObjects::storages
  Tensor,   ///< a rebuilt torch tensor; index into TorchObjects::tensors
};

struct Value {
  explicit Value(Kind k) : kind(k) {}
  Kind kind;
  bool flag = false;           // Bool: the value; BigInt: text holds decimal digits (else LE bytes)
  mutable bool visiting = false;  // set while a walk is inside this value (cycle guard)
  std::int64_t integer = 0;    // Int; Storage/Tensor: table index
  double real = 0;             // Float
  std::string text;            // Str/Bytes: contents; Global/Object: "module.name"; BigInt: digits
  std::vector<Value*> items;   // List/Tuple/Set: elements; Dict: key, value, key, value...; Object: appended items
  Value* args = nullptr;       // Object: constructor arguments
  Value* state = nullptr;      // Object, Dict: the state BUILD gave it
  Value* dict = nullptr;       // Object: a Dict of SETITEM entries (dict subclasses)

  bool is(Kind k) const noexcept { return kind == k; }
  bool is_text() const noexcept { return kind == Kind::Str || kind == Kind::Bytes; }
  std::size_t dict_size() const noexcept { return items.size() / 2; }
  const Value* key(std::size_t i) const noexcept { return items[2 * i]; }
  const Value* value(std::size_t i) const noexcept { return items[2 * i + 1]; }
  /// The value of a string key in a Dict, or nullptr.
  const Value* get(std::string_view key) const noexcept;
};

/// Owns every Value of one checkpoint; values point at each other freely (cycles included) and die
/// together, without recursion.
class Arena {
public:
  explicit Arena(std::filesystem::path file);
  Value* make(Kind k);
  Value* none() noexcept { return none_; }
  Value* boolean(bool b) noexcept { return b ? true_ : false_; }
  Value* integer(std::int64_t v);
  Value* str(std::string s, Kind k = Kind::Str);
  std::size_t size() const noexcept { return values_.size(); }

  /// Beyond this many values a pickle is not a checkpoint header: refuse it before memory runs out.
  static constexpr std::size_t kMaxValues = 4'000'000;

private:
  std::filesystem::path file_;
  std::deque<Value> values_;
  Value* none_;
  Value* true_;
  Value* false_;
};

/// A short, printable rendering of a scalar (for metadata and names); "" for containers.
std::string scalar_text(const Value& v);

}  // namespace paramscope::io::pytorch
