// Untrusted text (names from a pickle, a zip directory, a header) made safe for a one-line error message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace paramscope {

/// At most max bytes of s ("..." marks a cut), control characters replaced by '?'.
inline std::string printable(std::string_view s, std::size_t max = 200) {
  std::string out(s.substr(0, max));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  if (s.size() > max) out += "...";
  return out;
}

/// printable(s) in single quotes, for naming untrusted names in messages.
inline std::string in_quotes(std::string_view s) { return "'" + printable(s) + "'"; }

}  // namespace paramscope
