// How the elements of a tensor fall into the groups of a granularity (rows, columns, heads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "paramscope/importance.h"

namespace paramscope {

/// Maps a flat element index to its group. Built per tensor; nullopt (with a reason) when the
/// granularity does not apply to that tensor.
struct GroupLayout {
  enum class Axis { All, Rows, Columns } axis = Axis::All;
  std::int64_t groups = 1;
  std::int64_t row_len = 1;  ///< elements per row (product of dims after the first)
  std::int64_t inner = 1;    ///< elements per column within a row (product of dims after the second)
  std::int64_t columns = 1;
  std::int64_t per_group = 1;  ///< rows (or columns) per group: head_dim for heads, 1 otherwise
  Shape map_shape;

  std::int64_t group_of(std::int64_t p) const noexcept {
    switch (axis) {
      case Axis::All:
        return 0;
      case Axis::Rows:
        return p / row_len / per_group;
      case Axis::Columns:
        return (p / inner) % columns / per_group;
    }
    return 0;
  }
};

/// throws nothing; the string says why the granularity does not apply.
std::optional<GroupLayout> group_layout(const ScoredTensor& t, Granularity g, const HeadConfig& heads,
                                        std::string& why);

}  // namespace paramscope
