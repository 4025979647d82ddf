// How counts are written in the GUI: digits grouped by thousands with ',' whatever the locale, so
// that numbers read the same in the tree, the status bar and the docs' screenshots.
#pragma once

#include <cstdint>

#include <QString>

namespace paramscope::ui {

/// 1234567 -> "1,234,567"
inline QString formatCount(std::uint64_t n) {
  QString digits = QString::number(n);
  for (qsizetype i = digits.size() - 3; i > 0; i -= 3) digits.insert(i, QLatin1Char(','));
  return digits;
}

}  // namespace paramscope::ui
