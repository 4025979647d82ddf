#include "xai/rise_masks.h"

#include <cmath>
#include <cstring>
#include <string>

#include "paramscope/attribution.h"
#include "paramscope/error.h"

namespace paramscope::xai {

namespace rise_detail {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// splitmix64 (Steele, Lea, Flood 2014) started from a state keyed by (seed, index).
class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t index) : state_(mix64(mix64(seed + kGolden) ^ index)) {}
  double uniform() {  // [0, 1), 53 bits
    state_ += kGolden;
    return static_cast<double>(mix64(state_) >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_;
};

// numpy's 'reflect' (skimage's mode='reflect', scipy's 'mirror'): d c b | a b c d | c b a.
std::int64_t mirror(std::int64_t i, std::int64_t n) {
  if (n == 1) return 0;
  const std::int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

}  // namespace

std::int64_t MaskGeometry::grid_size() const {
  std::int64_t n = 1;
  for (std::size_t a = 0; a < sizes.size(); ++a) n *= cells;
  return n;
}

std::int64_t MaskGeometry::mask_size() const {
  std::int64_t n = 1;
  for (const std::int64_t s : sizes) n *= s;
  return n;
}

MaskGeometry geometry(const std::vector<std::int64_t>& sizes, std::int64_t cells, double p) {
  if (cells < 1) throw usage_error("RISE needs at least 1 grid cell per axis, not " + std::to_string(cells));
  if (!(p > 0 && p <= 1)) throw usage_error("the RISE keep probability p must be in (0, 1], not " + std::to_string(p));
  if (sizes.empty()) throw usage_error("RISE masks need at least one spatial axis");
  MaskGeometry g;
  g.sizes = sizes;
  g.cells = cells;
  std::int64_t grid = 1;
  for (const std::int64_t s : sizes) {
    if (s < 1) throw usage_error("RISE masks of sizes " + shape_string(sizes) + ": every size must be at least 1");
    g.cell.push_back((s + cells - 1) / cells);
    grid *= cells;
    if (grid > (std::int64_t{1} << 24))
      throw usage_error("a RISE grid of " + std::to_string(cells) + " cells over " + std::to_string(sizes.size()) +
                        " axes is too large");
  }
  return g;
}

MaskDraw draw(const MaskGeometry& g, double p, std::uint64_t seed, std::int64_t index) {
  Stream rng(seed, static_cast<std::uint64_t>(index));
  MaskDraw d;
  d.grid.resize(static_cast<std::size_t>(g.grid_size()));
  for (float& v : d.grid) v = rng.uniform() < p ? 1.0f : 0.0f;
  for (const std::int64_t c : g.cell) {
    const auto k = static_cast<std::int64_t>(rng.uniform() * static_cast<double>(c));
    d.shift.push_back(k < c ? k : c - 1);
  }
  return d;
}

void upsample_crop(const MaskGeometry& g, const float* grid, const std::vector<std::int64_t>& shift, float* out) {
  const std::size_t axes = g.sizes.size();
  const std::int64_t s = g.cells;
  std::vector<std::int64_t> dims(axes, s);
  std::vector<double> cur(grid, grid + g.grid_size()), next;
  std::vector<std::int64_t> lo, hi;
  std::vector<double> frac;
  for (std::size_t a = 0; a < axes; ++a) {
    const std::int64_t n_out = g.sizes[a];
    // source positions of the cropped samples shift .. shift + n_out - 1 of the (s + 1) c upsampling
    const double scale = static_cast<double>(s) / static_cast<double>((s + 1) * g.cell[a]);
    lo.resize(static_cast<std::size_t>(n_out));
    hi.resize(static_cast<std::size_t>(n_out));
    frac.resize(static_cast<std::size_t>(n_out));
    for (std::int64_t j = 0; j < n_out; ++j) {
      const double src = (static_cast<double>(j + shift[a]) + 0.5) * scale - 0.5;
      const double f0 = std::floor(src);
      const auto i0 = static_cast<std::int64_t>(f0);
      lo[static_cast<std::size_t>(j)] = mirror(i0, s);
      hi[static_cast<std::size_t>(j)] = mirror(i0 + 1, s);
      frac[static_cast<std::size_t>(j)] = src - f0;
    }
    std::int64_t outer = 1, inner = 1;
    for (std::size_t b = 0; b < a; ++b) outer *= dims[b];
    for (std::size_t b = a + 1; b < axes; ++b) inner *= dims[b];
    next.assign(static_cast<std::size_t>(outer * n_out * inner), 0.0);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < n_out; ++j) {
        const double* p0 = cur.data() + (o * s + lo[static_cast<std::size_t>(j)]) * inner;
        const double* p1 = cur.data() + (o * s + hi[static_cast<std::size_t>(j)]) * inner;
        const double f = frac[static_cast<std::size_t>(j)];
        double* dst = next.data() + (o * n_out + j) * inner;
        // a + f (b - a): exactly a where the neighbours agree, so a constant grid stays constant
        for (std::int64_t k = 0; k < inner; ++k) dst[k] = p0[k] + f * (p1[k] - p0[k]);
      }
    dims[a] = n_out;
    cur.swap(next);
  }
  for (std::size_t k = 0; k < cur.size(); ++k) out[k] = static_cast<float>(cur[k]);
}

}  // namespace rise_detail

Array rise_masks(const std::vector<std::int64_t>& spatial_sizes, const RiseOptions& options, std::int64_t first,
                 std::int64_t n) {
  const rise_detail::MaskGeometry g = rise_detail::geometry(spatial_sizes, options.cells, options.p);
  if (first < 0 || n < 0)
    throw usage_error("RISE masks [" + std::to_string(first) + ", " + std::to_string(first + n) +
                      "): the range must not be negative");
  std::vector<std::int64_t> shape{n};
  shape.insert(shape.end(), spatial_sizes.begin(), spatial_sizes.end());
  Array out(DType::F32, shape);
  const std::int64_t m = g.mask_size();
  for (std::int64_t i = 0; i < n; ++i) {
    const rise_detail::MaskDraw d = rise_detail::draw(g, options.p, options.seed, first + i);
    rise_detail::upsample_crop(g, d.grid.data(), d.shift, out.data<float>() + i * m);
  }
  return out;
}

}  // namespace paramscope::xai
