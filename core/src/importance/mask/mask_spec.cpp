// "--top" and "--scope" values: parsing and the one-line description written into mask files.
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

#include "paramscope/error.h"
#include "paramscope/mask.h"

namespace paramscope {
namespace {

std::optional<double> number(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::int64_t> integer(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

[[noreturn]] void bad_top(std::string_view top) {
  throw usage_error("mask: --top '" + std::string(top) +
                    "' is not a percentage (10%), a fraction in [0, 1] (0.1) or a whole count (5000)");
}

}  // namespace

MaskSpec MaskSpec::parse(std::string_view top, std::string_view scope) {
  MaskSpec s;
  if (scope == "global")
    s.scope = MaskScope::Global;
  else if (scope == "tensor")
    s.scope = MaskScope::Tensor;
  else if (scope == "row")
    s.scope = MaskScope::Row;
  else if (scope == "threshold")
    s.scope = MaskScope::Threshold;
  else if (const auto colon = scope.find(':'); colon != std::string_view::npos) {
    const auto n = integer(scope.substr(0, colon)), m = integer(scope.substr(colon + 1));
    if (!n || !m || *m < 1 || *m > kMaxGroup || *n < 0 || *n > *m)
      throw usage_error("mask: scope '" + std::string(scope) +
                        "': N:M needs 0 <= N <= M <= " + std::to_string(kMaxGroup) + " (2:4, 4:8)");
    s.scope = MaskScope::NM;
    s.n = static_cast<int>(*n);
    s.m = static_cast<int>(*m);
    return s;  // N:M keeps N of every M: --top does not apply
  } else {
    throw usage_error("mask: scope '" + std::string(scope) +
                      "' is not one of global, tensor, row, N:M (2:4), threshold");
  }
  if (s.scope == MaskScope::Threshold) {
    const auto v = number(top);
    if (!v) throw usage_error("mask: threshold '" + std::string(top) + "' is not a finite number");
    s.threshold = *v;
    return s;
  }
  if (!top.empty() && top.back() == '%') {
    const auto v = number(top.substr(0, top.size() - 1));
    if (!v || *v < 0 || *v > 100) bad_top(top);
    s.fraction = *v / 100;
  } else if (const auto c = integer(top)) {
    if (*c < 0) bad_top(top);
    s.count = *c;
  } else if (const auto v = number(top)) {
    if (*v < 0 || *v > 1) bad_top(top);
    s.fraction = *v;
  } else {
    bad_top(top);
  }
  return s;
}

std::string MaskSpec::describe() const {
  const std::string amount = count >= 0 ? fmt::format("top {}", count) : fmt::format("top {:.6g}%", fraction * 100);
  switch (scope) {
    case MaskScope::Global:
      return amount + " global";
    case MaskScope::Tensor:
      return amount + " per tensor";
    case MaskScope::Row:
      return amount + " per row";
    case MaskScope::NM:
      return fmt::format("{}:{}", n, m);
    case MaskScope::Threshold:
      return fmt::format("score >= {}", threshold);
  }
  return {};
}

}  // namespace paramscope
