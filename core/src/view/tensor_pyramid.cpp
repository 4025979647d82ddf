// Building a TensorPyramid: one streaming pass over the matrix in aligned tiles on the pool, each
// tile reduced to all fine levels at once; the few coarse levels above come from the finest
// stored one afterwards.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <string>

#include "paramscope/error.h"
#include "paramscope/pyramid.h"
#include "paramscope/tensor.h"
#include "view/block_reduce.h"
#include "view/pyramid_impl.h"

namespace paramscope {
namespace {

using detail::cells_at;

// Levels reduced inside a tile: tiles are 2^6 = 64 rows high (or the whole matrix when lower),
// so a tile's cells never straddle tiles up to this level.
constexpr int kTileLevels = 6;
// Elements per tile: whole rows up to a 4 MB float buffer per worker (so pages can be released
// band by band), otherwise column strips of about 512 KB.
constexpr std::int64_t kWholeRowElements = std::int64_t{1} << 20;
constexpr std::int64_t kTileElements = std::int64_t{1} << 17;

std::string size_text(std::int64_t rows, std::int64_t cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

struct Layout {
  int top = 0;         // coarsest level
  int tile_level = 0;  // levels 1..tile_level are reduced inside tiles
  std::int64_t tile_rows = 1, tile_cols = 1;
  std::int64_t bands = 0, tiles_per_band = 0;
};

Layout plan(std::int64_t rows, std::int64_t cols, std::int64_t top_size) {
  Layout l;
  while (cells_at(rows, l.top) > top_size || cells_at(cols, l.top) > top_size) ++l.top;
  l.tile_level = std::min(l.top, kTileLevels);
  const std::int64_t align = std::int64_t{1} << l.tile_level;
  l.tile_rows = std::min(align, rows);
  // Columns: a multiple of the alignment, so that tiles side by side never share a cell.
  if (cols <= kWholeRowElements / l.tile_rows)
    l.tile_cols = cols;
  else
    l.tile_cols = std::min(cols, std::max(align, kTileElements / l.tile_rows / align * align));
  l.bands = rows / l.tile_rows + (rows % l.tile_rows != 0);
  l.tiles_per_band = cols / l.tile_cols + (cols % l.tile_cols != 0);
  return l;
}

// A worker's scratch: level L of the tile at index L (level 0 is the read buffer).
struct TileScratch {
  std::vector<float> pair;  // a row of row pairs, for halve_max_abs
  std::vector<double> sum, weight;  // the same for halve_mean
  std::vector<std::vector<float>> max_abs, mean;
  std::vector<std::vector<std::uint32_t>> count;
};

class Builder {
public:
  Builder(TensorPyramid::Impl& p, const Layout& layout, bool max_abs, bool mean)
      : p_(p), l_(layout), want_max_(max_abs), want_mean_(mean) {
    for (int level = 1; level < p_.levels; ++level) {
      const auto n = static_cast<std::size_t>(cells_at(p_.rows, level) * cells_at(p_.cols, level));
      if (want_max_) p_.max_abs.emplace_back(n);
      if (want_mean_) p_.mean.emplace_back(n);
    }
    // Element counts of the finest stored level's cells, for means of the levels above it.
    if (want_mean_ && l_.top > l_.tile_level)
      tile_level_count_.resize(static_cast<std::size_t>(cells_at(p_.rows, l_.tile_level) * cells_at(p_.cols, l_.tile_level)));
  }

  void run(ThreadPool& pool, const JobControl& control) {
    const std::int64_t tiles = l_.bands * l_.tiles_per_band;
    ProgressTracker progress(control, static_cast<std::uint64_t>(p_.rows * p_.cols));
    // A few groups of consecutive tiles per worker: one histogram each, merged at the end.
    const auto groups = static_cast<std::size_t>(std::min<std::int64_t>(tiles, 4 * std::max(1, pool.threads())));
    std::mutex merge;
    pool.parallel_for(groups, 1, [&](std::size_t g0, std::size_t g1) {
      for (std::size_t g = g0; g < g1; ++g) {
        const auto first = static_cast<std::int64_t>(g) * tiles / static_cast<std::int64_t>(groups);
        const auto last = static_cast<std::int64_t>(g + 1) * tiles / static_cast<std::int64_t>(groups);
        ValueStats stats;
        TileScratch scratch;
        std::vector<float> values;
        for (std::int64_t t = first; t < last; ++t) {
          const std::int64_t elements = tile(t, values, scratch, stats);
          progress.advance(static_cast<std::uint64_t>(elements));
        }
        const std::lock_guard lock(merge);
        p_.stats.merge(stats);
      }
    });
    if (p_.release) p_.release(0, p_.rows * p_.cols);
    if (control.cancel) control.cancel->throw_if_cancelled();
    upper_levels(pool);
    progress.finish();
  }

private:
  // Reads tile t and reduces it to levels 1..tile_level; returns its element count.
  std::int64_t tile(std::int64_t t, std::vector<float>& values, TileScratch& s, ValueStats& stats) {
    const std::int64_t row0 = t / l_.tiles_per_band * l_.tile_rows, col0 = t % l_.tiles_per_band * l_.tile_cols;
    const std::int64_t h = std::min(l_.tile_rows, p_.rows - row0), w = std::min(l_.tile_cols, p_.cols - col0);
    values.resize(static_cast<std::size_t>(h * w));
    p_.read_level0(row0, col0, h, w, values.data());
    if (p_.release && w == p_.cols) p_.release(row0 * p_.cols, h * w);
    stats.add(values);

    const auto levels = static_cast<std::size_t>(l_.tile_level) + 1;
    if (want_max_) s.max_abs.resize(levels);
    if (want_mean_) {
      s.mean.resize(levels);
      s.count.resize(levels);
    }
    std::int64_t sh = h, sw = w;
    for (int level = 1; level <= l_.tile_level; ++level) {
      const std::int64_t dh = cells_at(sh, 1), dw = cells_at(sw, 1);
      const auto L = static_cast<std::size_t>(level);
      const std::int64_t r = row0 >> level, c = col0 >> level, stride = cells_at(p_.cols, level);
      if (want_max_) {
        auto& dst = s.max_abs[L];
        dst.resize(static_cast<std::size_t>(dh * dw));
        const float* src = level == 1 ? values.data() : s.max_abs[L - 1].data();
        s.pair.resize(static_cast<std::size_t>(sw));
        detail::halve_max_abs(src, sh, sw, sw, dst.data(), dw, s.pair.data());
        copy_out(dst.data(), dh, dw, p_.max_abs[L - 1].data() + r * stride + c, stride);
      }
      if (want_mean_) {
        auto& dst = s.mean[L];
        auto& cnt = s.count[L];
        dst.resize(static_cast<std::size_t>(dh * dw));
        cnt.resize(dst.size());
        const float* src = level == 1 ? values.data() : s.mean[L - 1].data();
        const std::uint32_t* src_count = level == 1 ? nullptr : s.count[L - 1].data();
        s.sum.resize(static_cast<std::size_t>(sw));
        s.weight.resize(static_cast<std::size_t>(sw));
        detail::halve_mean(src, src_count, sh, sw, sw, dst.data(), cnt.data(), dw, s.sum.data(), s.weight.data());
        copy_out(dst.data(), dh, dw, p_.mean[L - 1].data() + r * stride + c, stride);
        if (level == l_.tile_level && !tile_level_count_.empty())
          for (std::int64_t i = 0; i < dh; ++i)
            for (std::int64_t j = 0; j < dw; ++j)
              tile_level_count_[static_cast<std::size_t>((r + i) * stride + c + j)] = cnt[static_cast<std::size_t>(i * dw + j)];
      }
      sh = dh;
      sw = dw;
    }
    return h * w;
  }

  static void copy_out(const float* src, std::int64_t h, std::int64_t w, float* dst, std::int64_t stride) {
    for (std::int64_t i = 0; i < h; ++i) std::copy_n(src + i * w, w, dst + i * stride);
  }

  // Levels above the tiles, each from the one below (they are small: numel / 4^7 cells at most).
  void upper_levels(ThreadPool& pool) {
    std::vector<double> count = std::move(tile_level_count_), next_count;
    for (int level = l_.tile_level + 1; level <= l_.top; ++level) {
      const auto L = static_cast<std::size_t>(level);
      const std::int64_t sh = cells_at(p_.rows, level - 1), sw = cells_at(p_.cols, level - 1);
      const std::int64_t dh = cells_at(p_.rows, level), dw = cells_at(p_.cols, level);
      if (want_mean_) next_count.assign(static_cast<std::size_t>(dh * dw), 0);
      pool.parallel_for(static_cast<std::size_t>(dh), 16, [&](std::size_t b, std::size_t e) {
        const auto i0 = static_cast<std::int64_t>(b), i1 = static_cast<std::int64_t>(e);
        const std::int64_t src_rows = std::min(sh, 2 * i1) - 2 * i0;
        if (want_max_) {
          std::vector<float> pair(static_cast<std::size_t>(sw));
          detail::halve_max_abs(p_.max_abs[L - 2].data() + 2 * i0 * sw, src_rows, sw, sw,
                                p_.max_abs[L - 1].data() + i0 * dw, dw, pair.data());
        }
        if (want_mean_) {
          std::vector<double> sum(static_cast<std::size_t>(sw)), weight(sum.size());
          detail::halve_mean(p_.mean[L - 2].data() + 2 * i0 * sw, count.data() + 2 * i0 * sw, src_rows, sw, sw,
                             p_.mean[L - 1].data() + i0 * dw, next_count.data() + i0 * dw, dw, sum.data(),
                             weight.data());
        }
      });
      count.swap(next_count);
    }
  }

  TensorPyramid::Impl& p_;
  const Layout l_;
  const bool want_max_, want_mean_;
  std::vector<double> tile_level_count_;
};

TensorPyramid build(MatrixReader reader, std::function<void(std::int64_t, std::int64_t)> release, std::int64_t rows,
                    std::int64_t cols, ThreadPool& pool, const JobControl& control, const PyramidOptions& options) {
  if (rows <= 0 || cols <= 0) throw usage_error("a heatmap needs a non-empty matrix, not " + size_text(rows, cols));
  if (!reader) throw usage_error("a heatmap needs a reader of its values");
  if (options.top_size < 1) throw usage_error("pyramid top size must be at least 1");
  if (!options.max_abs && !options.mean) throw usage_error("a pyramid needs at least one reduction (max-abs or mean)");
  auto impl = std::make_unique<TensorPyramid::Impl>();
  impl->reader = std::move(reader);
  impl->release = std::move(release);
  impl->rows = rows;
  impl->cols = cols;
  const Layout layout = plan(rows, cols, options.top_size);
  impl->levels = layout.top + 1;
  Builder(*impl, layout, options.max_abs, options.mean).run(pool, control);
  return TensorPyramid(std::move(impl));
}

}  // namespace

std::pair<std::int64_t, std::int64_t> matrix_shape(std::span<const std::int64_t> shape) noexcept {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {1, shape[0]};
  return {shape[0], numel(shape.subspan(1))};
}

void TensorPyramid::Impl::read_level0(std::int64_t row0, std::int64_t col0, std::int64_t n, std::int64_t w,
                                      float* out) const {
  if (w == cols) {  // whole rows are one contiguous range
    reader(row0 * cols, std::span<float>(out, static_cast<std::size_t>(n * w)));
    return;
  }
  for (std::int64_t i = 0; i < n; ++i)
    reader((row0 + i) * cols + col0, std::span<float>(out + i * w, static_cast<std::size_t>(w)));
}

TensorPyramid::TensorPyramid(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TensorPyramid::TensorPyramid(TensorPyramid&&) noexcept = default;
TensorPyramid& TensorPyramid::operator=(TensorPyramid&&) noexcept = default;
TensorPyramid::~TensorPyramid() = default;

TensorPyramid TensorPyramid::of_reader(MatrixReader reader, std::int64_t rows, std::int64_t cols, ThreadPool& pool,
                                       const JobControl& control, const PyramidOptions& options) {
  return build(std::move(reader), {}, rows, cols, pool, control, options);
}

TensorPyramid TensorPyramid::of_values(std::shared_ptr<const std::vector<float>> values, std::int64_t rows,
                                       std::int64_t cols, ThreadPool& pool, const JobControl& control,
                                       const PyramidOptions& options) {
  if (!values || rows < 0 || cols < 0 || (rows > 0 && cols > std::numeric_limits<std::int64_t>::max() / rows) ||
      static_cast<std::int64_t>(values->size()) != rows * cols)
    throw usage_error("heatmap values: " + std::to_string(values ? values->size() : 0) + " floats do not make a " +
                      size_text(rows, cols) + " matrix");
  auto reader = [values = std::move(values)](std::int64_t first, std::span<float> out) {
    std::copy_n(values->data() + first, out.size(), out.data());
  };
  return of_reader(std::move(reader), rows, cols, pool, control, options);
}

TensorPyramid TensorPyramid::of_tensor(const Tensor& tensor, ThreadPool& pool, const JobControl& control,
                                       const PyramidOptions& options) {
  if (tensor.numel() == 0)
    throw usage_error("tensor '" + tensor.name() + "' " + shape_string(tensor.shape()) + " has no values to show");
  const auto [rows, cols] = matrix_shape(tensor.shape());
  // The tensor's mapped pages leave the resident set as the build streams past them.
  return build([tensor](std::int64_t first, std::span<float> out) { tensor.read_f32(first, out); },
               [tensor](std::int64_t first, std::int64_t count) { tensor.release(first, count); }, rows, cols, pool,
               control, options);
}

std::int64_t TensorPyramid::rows() const noexcept { return impl_->rows; }
std::int64_t TensorPyramid::cols() const noexcept { return impl_->cols; }
int TensorPyramid::levels() const noexcept { return impl_->levels; }
std::int64_t TensorPyramid::level_rows(int level) const noexcept { return cells_at(impl_->rows, level); }
std::int64_t TensorPyramid::level_cols(int level) const noexcept { return cells_at(impl_->cols, level); }
bool TensorPyramid::has(PyramidReduction r) const noexcept {
  return impl_->levels == 1 || !impl_->levels_of(r).empty();
}
const ValueStats& TensorPyramid::stats() const noexcept { return impl_->stats; }

std::vector<float> TensorPyramid::tile(int level, std::int64_t row0, std::int64_t col0, std::int64_t rows,
                                       std::int64_t cols, PyramidReduction reduction) const {
  if (level < 0 || level >= impl_->levels)
    throw usage_error("pyramid level " + std::to_string(level) + " outside 0.." + std::to_string(impl_->levels - 1));
  const std::int64_t lr = level_rows(level), lc = level_cols(level);
  if (row0 < 0 || col0 < 0 || rows < 0 || cols < 0 || row0 > lr - rows || col0 > lc - cols)
    throw usage_error("tile at (" + std::to_string(row0) + ", " + std::to_string(col0) + ") of " +
                      size_text(rows, cols) + " lies outside level " + std::to_string(level) + " (" +
                      size_text(lr, lc) + ")");
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  if (out.empty()) return out;
  if (level == 0) {
    impl_->read_level0(row0, col0, rows, cols, out.data());
    return out;
  }
  if (!has(reduction))
    throw usage_error(std::string("this pyramid has no ") + (reduction == PyramidReduction::Mean ? "mean" : "max-abs") +
                      " levels");
  const float* src = impl_->levels_of(reduction)[static_cast<std::size_t>(level - 1)].data();
  for (std::int64_t i = 0; i < rows; ++i)
    std::copy_n(src + (row0 + i) * lc + col0, cols, out.data() + i * cols);
  return out;
}

float TensorPyramid::value_at(std::int64_t row, std::int64_t col) const {
  if (row < 0 || col < 0 || row >= impl_->rows || col >= impl_->cols)
    throw usage_error("element (" + std::to_string(row) + ", " + std::to_string(col) + ") lies outside the " +
                      size_text(impl_->rows, impl_->cols) + " matrix");
  float v = 0;
  impl_->reader(row * impl_->cols + col, std::span<float>(&v, 1));
  return v;
}

}  // namespace paramscope
