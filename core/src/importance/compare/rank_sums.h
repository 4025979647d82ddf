// Spearman's rho and the top-k Jaccard index from exact integer sums, so that results do not
// depend on the order in which threads add them up.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace paramscope::compare {

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

/// Sums over n elements of R = 2 x (average rank of a) and S = 2 x (average rank of b), ranks
/// from 1. Doubling keeps average ranks (halves for even-sized ties) integral.
struct RankSums {
  std::uint64_t n = 0;
  u128 rs = 0, rr = 0, ss = 0;
};

/// Pearson correlation of the ranks. Both rank sets sum to n(n+1) (doubled), so the centred
/// sums are rs - n(n+1)^2 and so on, exact in 128 bits for any n below 2^40.
inline double spearman(const RankSums& s) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  if (s.n < 2) return nan;
  const u128 n1 = s.n + 1;
  const u128 mean_term = static_cast<u128>(s.n) * n1 * n1;
  const auto cov = static_cast<i128>(s.rs) - static_cast<i128>(mean_term);
  const auto va = static_cast<i128>(s.rr) - static_cast<i128>(mean_term);
  const auto vb = static_cast<i128>(s.ss) - static_cast<i128>(mean_term);
  if (va <= 0 || vb <= 0) return nan;
  const long double r =
      static_cast<long double>(cov) / std::sqrt(static_cast<long double>(va) * static_cast<long double>(vb));
  return static_cast<double>(std::fmax(-1.0L, std::fmin(1.0L, r)));
}

inline double jaccard(std::uint64_t intersection, std::uint64_t k) {
  if (k == 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(intersection) / static_cast<double>(2 * k - intersection);
}

}  // namespace paramscope::compare
