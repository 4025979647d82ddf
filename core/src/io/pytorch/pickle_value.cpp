#include "io/pytorch/pickle_value.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "util/printable.h"
#include "paramscope/error.h"

namespace paramscope::io::pytorch {

const Value* Value::get(std::string_view k) const noexcept {
  if (kind != Kind::Dict) return nullptr;
  // Python dicts keep the last value stored under a key.
  for (std::size_t i = dict_size(); i-- > 0;)
    if (key(i)->is_text() && key(i)->text == k) return value(i);
  return nullptr;
}

Arena::Arena(std::filesystem::path file) : file_(std::move(file)) {
  none_ = &values_.emplace_back(Kind::None);
  false_ = &values_.emplace_back(Kind::Bool);
  true_ = &values_.emplace_back(Kind::Bool);
  true_->flag = true;
}

Value* Arena::make(Kind k) {
  if (values_.size() >= kMaxValues)
    throw unsupported(file_, "the pickle builds more than " + std::to_string(kMaxValues) +
                                 " objects, far more than a checkpoint's index of tensors needs");
  return &values_.emplace_back(k);
}

Value* Arena::integer(std::int64_t v) {
  Value* x = make(Kind::Int);
  x->integer = v;
  return x;
}

Value* Arena::str(std::string s, Kind k) {
  Value* x = make(k);
  x->text = std::move(s);
  return x;
}

std::string scalar_text(const Value& v) {
  constexpr std::size_t kMaxText = 200;
  switch (v.kind) {
    case Kind::None: return "None";
    case Kind::Bool: return v.flag ? "True" : "False";
    case Kind::Int: return std::to_string(v.integer);
    case Kind::BigInt:
      if (v.flag) return v.text.size() <= kMaxText ? v.text : "<" + std::to_string(v.text.size()) + "-digit integer>";
      return "<" + std::to_string(v.text.size() * 8) + "-bit integer>";
    case Kind::Float: {
      if (std::isnan(v.real)) return "nan";
      if (std::isinf(v.real)) return v.real > 0 ? "inf" : "-inf";
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.real);
      std::string s(buf, ec == std::errc() ? end : buf);
      // Python prints integral floats as "3.0".
      if (s.find_first_of(".e") == std::string::npos) s += ".0";
      return s;
    }
    case Kind::Str:
    case Kind::Bytes:
    case Kind::Global: return printable(v.text, kMaxText);
    default: return "";
  }
}

}  // namespace paramscope::io::pytorch
