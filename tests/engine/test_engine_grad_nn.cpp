// Backward rules of the linear, convolution, pooling and normalisation operators:
// - every operator and every attribute path that changes the math (transposes and C's
//   broadcast, batch broadcasting, strides / pads / dilations / groups / auto_pad, ceil_mode and
//   count_include_pad, axes, keepdims, opset 11 vs 13 Softmax) against central finite
//   differences of the forward pass (test::grad_check), on inputs away from kinks and ties;
// - the conventions at the kinks with hand-checked values (a MaxPool tie goes to the first
//   maximum, overlapping windows add up, AveragePool's divisor with and without the padding);
// - the large-input paths (images split over the pool, products split inside one image)
//   against direct sums;
// - the rule interface: unwanted inputs and absent output gradients give nullopt, integer
//   inputs have no gradient, F64 inputs get F64 gradients equal to the F32 ones.
#include <QTest>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine_node.h"
#include "grad_check.h"

using namespace paramscope;
using namespace paramscope::engine;

namespace {

using Shape_ = std::vector<std::int64_t>;
using test::attr_f;
using test::attr_i;
using test::attr_ints;
using test::attr_s;
using test::GradCheck;

Array f32(Shape_ s, std::initializer_list<float> v) {
  return Array::of<float>(std::move(s), v);
}
Array i64(Shape_ s, std::initializer_list<std::int64_t> v) {
  return Array::of<std::int64_t>(std::move(s), v);
}
Array rnd(Shape_ s, std::uint32_t seed, float lo = -1, float hi = 1) {
  return test::pseudo_random(std::move(s), seed, lo, hi);
}

// Values 0.01 apart in a shuffled order, centred on 0: no two elements of a MaxPool window are
// within a finite-difference step of each other, so the maxima do not move.
Array distinct(Shape_ s, std::uint32_t seed) {
  Array a(DType::F32, std::move(s));
  std::vector<float> v(static_cast<std::size_t>(a.size()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.01f * (static_cast<float>(i) - static_cast<float>(v.size()) / 2);
  std::uint32_t r = seed * 2654435761u + 1;
  for (std::size_t i = v.size(); i > 1; --i) {
    r = r * 1664525u + 1013904223u;
    std::swap(v[i - 1], v[(r >> 8) % i]);
  }
  std::copy(v.begin(), v.end(), a.data<float>());
  return a;
}

std::vector<GradCheck>& cases() {
  static std::vector<GradCheck> all;
  return all;
}

void add(const char* name, GradCheck c) {
  QTest::newRow(name) << static_cast<int>(cases().size());
  cases().push_back(std::move(c));
}

// ---- Calling a rule directly ------------------------------------------------------------------

struct Backward {
  std::vector<Array> out;
  Grads grads;
};

// Runs op forward, then its backward rule with the given output gradients (nullopt: none flows)
// and wanted input slots.
Backward backward(const std::string& op, const std::vector<std::optional<Array>>& in,
                  const std::map<std::string, Attribute>& attrs, int opset, std::size_t outputs,
                  const std::vector<std::optional<Array>>& gout, const std::vector<std::size_t>& want) {
  Node n;
  n.name = "t";
  n.op_type = op;
  for (std::size_t i = 0; i < in.size(); ++i) n.inputs.push_back(in[i] ? "i" + std::to_string(i) : "");
  for (std::size_t i = 0; i < outputs; ++i) n.outputs.push_back("o" + std::to_string(i));
  n.attributes = attrs;
  n.op = OpRegistry::builtin().find(op);
  Backward r;
  r.out = test::run_node(op, in, attrs, opset, outputs);
  const NodeContext ctx(n, opset, ThreadPool::global());
  std::vector<const Array*> args(input_slots(n), nullptr);
  for (std::size_t i = 0; i < in.size(); ++i) args[i] = in[i] ? &*in[i] : nullptr;
  std::vector<const Array*> g;
  for (const auto& x : gout) g.push_back(x ? &*x : nullptr);
  const auto wants = std::make_unique<bool[]>(args.size());
  for (const auto i : want) wants[i] = true;
  const BackwardArgs a{args, r.out, g, std::span<const bool>(wants.get(), args.size())};
  r.grads = n.op->backward(ctx, a);
  return r;
}

// "" when got equals want to rtol of want's largest magnitude, else the first difference.
QString compare(const Array& got, const std::vector<double>& want, double rtol = 1e-4) {
  if (got.size() != static_cast<std::int64_t>(want.size()))
    return QString("size %1, expected %2").arg(got.size()).arg(want.size());
  double scale = 1e-6;
  for (const double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double g = got.type() == DType::F64 ? got.values<double>()[i] : got.values<float>()[i];
    if (!(std::fabs(g - want[i]) <= rtol * scale))
      return QString("[%1]: %2, expected %3").arg(i).arg(g, 0, 'g', 9).arg(want[i], 0, 'g', 9);
  }
  return {};
}

// ---- Direct sums for the large-input paths (2-D) ----------------------------------------------

struct ConvAttrs {
  std::int64_t group = 1, stride = 1, pad = 0, dilation = 1;
  std::map<std::string, Attribute> map() const {
    return {{"group", attr_i(group)},
            {"strides", attr_ints({stride, stride})},
            {"pads", attr_ints({pad, pad, pad, pad})},
            {"dilations", attr_ints({dilation, dilation})}};
  }
};

struct Direct {
  std::vector<double> y, dx, dw, db;
};

// Conv: y[n, m, o] = sum over the group's channels and taps of x[n, c, o * s + k * d - p] w[m, c, k].
// ConvTranspose: x[n, c, i] w[c, mo, k] goes to y[n, grp * mg + mo, i * s + k * d - p].
// Either way every product x w adds to y, x dy to dw and w dy to dx.
Direct direct_sums(bool transpose, const Array& x, const Array& w, const Array& b, const Array& dy,
                   const ConvAttrs& at) {
  const auto& xs = x.shape();
  const auto& ws = w.shape();
  const auto& ys = dy.shape();
  const std::int64_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3], kh = ws[2], kw = ws[3];
  const std::int64_t m = ys[1], oh = ys[2], ow = ys[3], cg = c / at.group;
  const std::int64_t mg = m / at.group;
  Direct d{std::vector<double>(static_cast<std::size_t>(dy.size())),
           std::vector<double>(static_cast<std::size_t>(x.size())),
           std::vector<double>(static_cast<std::size_t>(w.size())), std::vector<double>(static_cast<std::size_t>(m))};
  const float* xv = x.data<float>();
  const float* wv = w.data<float>();
  const float* g = dy.data<float>();
  const auto xi = [&](std::int64_t img, std::int64_t ch, std::int64_t i, std::int64_t j) {
    return static_cast<std::size_t>(((img * c + ch) * h + i) * wd + j);
  };
  const auto yi = [&](std::int64_t img, std::int64_t ch, std::int64_t i, std::int64_t j) {
    return static_cast<std::size_t>(((img * m + ch) * oh + i) * ow + j);
  };
  for (std::int64_t bi = 0; bi < n; ++bi)
    for (std::int64_t mo = 0; mo < m; ++mo)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          d.db[static_cast<std::size_t>(mo)] += g[yi(bi, mo, i, j)];
          d.y[yi(bi, mo, i, j)] = b.data<float>()[mo];
        }
  for (std::int64_t bi = 0; bi < n; ++bi)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const std::int64_t grp = ch / cg;
      for (std::int64_t ml = 0; ml < mg; ++ml)
        for (std::int64_t a = 0; a < kh; ++a)
          for (std::int64_t e = 0; e < kw; ++e) {
            // The weight: Conv [M, C/group, k], ConvTranspose [C, M/group, k].
            const std::int64_t mo = grp * mg + ml;
            const auto wi = static_cast<std::size_t>(transpose ? ((ch * mg + ml) * kh + a) * kw + e
                                                               : ((mo * cg + ch % cg) * kh + a) * kw + e);
            if (!transpose) {
              for (std::int64_t i = 0; i < oh; ++i)
                for (std::int64_t j = 0; j < ow; ++j) {
                  const std::int64_t ii = i * at.stride + a * at.dilation - at.pad;
                  const std::int64_t jj = j * at.stride + e * at.dilation - at.pad;
                  if (ii < 0 || ii >= h || jj < 0 || jj >= wd) continue;
                  const double gy = g[yi(bi, mo, i, j)];
                  d.y[yi(bi, mo, i, j)] += static_cast<double>(wv[wi]) * xv[xi(bi, ch, ii, jj)];
                  d.dx[xi(bi, ch, ii, jj)] += gy * wv[wi];
                  d.dw[wi] += gy * xv[xi(bi, ch, ii, jj)];
                }
            } else {
              for (std::int64_t i = 0; i < h; ++i)
                for (std::int64_t j = 0; j < wd; ++j) {
                  const std::int64_t ii = i * at.stride + a * at.dilation - at.pad;
                  const std::int64_t jj = j * at.stride + e * at.dilation - at.pad;
                  if (ii < 0 || ii >= oh || jj < 0 || jj >= ow) continue;
                  const double gy = g[yi(bi, mo, ii, jj)];
                  d.y[yi(bi, mo, ii, jj)] += static_cast<double>(wv[wi]) * xv[xi(bi, ch, i, j)];
                  d.dx[xi(bi, ch, i, j)] += gy * wv[wi];
                  d.dw[wi] += gy * xv[xi(bi, ch, i, j)];
                }
            }
          }
    }
  return d;
}

// Numpy matmul's gradients by direct sums for A [.., M, K] x B [.., K, N] of equal rank, with
// batch dimensions of size 1 broadcast.
void direct_matmul(const Array& a, const Array& b, const Array& dy, std::vector<double>& da, std::vector<double>& db) {
  const std::size_t r = a.rank();
  const std::int64_t m = a.dim(r - 2), k = a.dim(r - 1), n = b.dim(r - 1);
  da.assign(static_cast<std::size_t>(a.size()), 0);
  db.assign(static_cast<std::size_t>(b.size()), 0);
  const auto& ys = dy.shape();
  std::int64_t batches = 1;
  for (std::size_t i = 0; i + 2 < r; ++i) batches *= ys[i];
  for (std::int64_t t = 0; t < batches; ++t) {
    std::int64_t rest = t, ao = 0, bo = 0, as = m * k, bs = k * n;
    for (std::size_t i = r - 2; i-- > 0;) {
      const std::int64_t idx = rest % ys[i];
      rest /= ys[i];
      ao += (a.dim(i) == 1 ? 0 : idx) * as;
      bo += (b.dim(i) == 1 ? 0 : idx) * bs;
      as *= a.dim(i);
      bs *= b.dim(i);
    }
    const float* av = a.data<float>() + ao;
    const float* bv = b.data<float>() + bo;
    const float* g = dy.data<float>() + t * m * n;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t l = 0; l < k; ++l) {
          da[static_cast<std::size_t>(ao + i * k + l)] += static_cast<double>(g[i * n + j]) * bv[l * n + j];
          db[static_cast<std::size_t>(bo + l * n + j)] += static_cast<double>(g[i * n + j]) * av[i * k + l];
        }
  }
}

}  // namespace

class TestEngineGradNn : public QObject {
  Q_OBJECT
 private slots:
  void finite_differences_data() {
    QTest::addColumn<int>("index");
    cases().clear();
    const std::vector<std::size_t> abc{0, 1, 2};

    // --- Gemm -------------------------------------------------------------------------------
    add("gemm", {"Gemm", {rnd({3, 4}, 1), rnd({4, 5}, 2), rnd({5}, 3)}, {}, 13, 1, abc});
    add("gemm transA", {"Gemm", {rnd({4, 3}, 1), rnd({4, 5}, 2), rnd({3, 5}, 3)}, {{"transA", attr_i(1)}}, 13, 1, abc});
    add("gemm transB", {"Gemm", {rnd({3, 4}, 1), rnd({5, 4}, 2), rnd({1, 5}, 3)}, {{"transB", attr_i(1)}}, 13, 1, abc});
    add("gemm both alpha beta C [3, 1]",
        {"Gemm",
         {rnd({4, 3}, 1), rnd({5, 4}, 2), rnd({3, 1}, 3)},
         {{"transA", attr_i(1)}, {"transB", attr_i(1)}, {"alpha", attr_f(0.5f)}, {"beta", attr_f(2)}},
         13,
         1,
         abc});
    add("gemm C scalar", {"Gemm", {rnd({3, 4}, 1), rnd({4, 5}, 2), rnd({}, 3)}, {{"beta", attr_f(-1.5f)}}, 13, 1, abc});
    add("gemm C [1]", {"Gemm", {rnd({3, 4}, 1), rnd({4, 5}, 2), rnd({1}, 3)}, {}, 13, 1, abc});
    add("gemm beta 0", {"Gemm", {rnd({3, 4}, 1), rnd({4, 5}, 2), rnd({3, 5}, 3)}, {{"beta", attr_f(0)}}, 13, 1, abc});
    add("gemm no C", {"Gemm", {rnd({3, 4}, 1), rnd({4, 5}, 2)}, {}, 13, 1, {0, 1}});
    add("gemm opset 9", {"Gemm", {rnd({2, 3}, 1), rnd({3, 2}, 2), rnd({2, 2}, 3)}, {}, 9, 1, abc});

    // --- MatMul -----------------------------------------------------------------------------
    const std::vector<std::size_t> ab{0, 1};
    add("matmul 2-D", {"MatMul", {rnd({3, 4}, 1), rnd({4, 5}, 2)}, {}, 13, 1, ab});
    add("matmul 1-D A", {"MatMul", {rnd({4}, 1), rnd({4, 5}, 2)}, {}, 13, 1, ab});
    add("matmul 1-D B", {"MatMul", {rnd({3, 4}, 1), rnd({4}, 2)}, {}, 13, 1, ab});
    add("matmul dot", {"MatMul", {rnd({4}, 1), rnd({4}, 2)}, {}, 13, 1, ab});
    add("matmul batch x shared B", {"MatMul", {rnd({2, 3, 4}, 1), rnd({4, 5}, 2)}, {}, 13, 1, ab});
    add("matmul batch x batch", {"MatMul", {rnd({2, 3, 4}, 1), rnd({2, 4, 5}, 2)}, {}, 13, 1, ab});
    add("matmul broadcast both", {"MatMul", {rnd({2, 1, 3, 4}, 1), rnd({3, 4, 2}, 2)}, {}, 13, 1, ab});
    add("matmul shared A", {"MatMul", {rnd({3, 4}, 1), rnd({2, 4, 5}, 2)}, {}, 13, 1, ab});
    add("matmul 1-D A x batch", {"MatMul", {rnd({4}, 1), rnd({2, 4, 3}, 2)}, {}, 13, 1, ab});
    add("matmul batch x 1-D B", {"MatMul", {rnd({2, 3, 4}, 1), rnd({4}, 2)}, {}, 13, 1, ab});
    add("matmul B [1, 4, 5] shared", {"MatMul", {rnd({3, 2, 4}, 1), rnd({1, 4, 5}, 2)}, {}, 13, 1, ab});

    // --- Conv -------------------------------------------------------------------------------
    add("conv 1-D pads",
        {"Conv", {rnd({2, 3, 7}, 1), rnd({4, 3, 3}, 2), rnd({4}, 3)}, {{"pads", attr_ints({1, 2})}}, 13, 1, abc});
    add("conv 2-D", {"Conv", {rnd({2, 3, 5, 5}, 1), rnd({4, 3, 3, 3}, 2), rnd({4}, 3)}, {}, 13, 1, abc});
    add("conv strides asymmetric pads", {"Conv",
                                         {rnd({1, 2, 6, 5}, 1), rnd({3, 2, 3, 2}, 2), rnd({3}, 3)},
                                         {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 0, 2, 1})}},
                                         13,
                                         1,
                                         abc});
    add("conv dilations", {"Conv",
                           {rnd({1, 2, 7, 7}, 1), rnd({2, 2, 3, 3}, 2), rnd({2}, 3)},
                           {{"dilations", attr_ints({2, 3})}},
                           13,
                           1,
                           abc});
    add("conv group 2", {"Conv",
                         {rnd({2, 4, 5, 5}, 1), rnd({6, 2, 3, 3}, 2), rnd({6}, 3)},
                         {{"group", attr_i(2)}, {"pads", attr_ints({1, 1, 1, 1})}},
                         13,
                         1,
                         abc});
    add("conv depthwise", {"Conv",
                           {rnd({1, 3, 6, 6}, 1), rnd({3, 1, 3, 3}, 2), rnd({3}, 3)},
                           {{"group", attr_i(3)}, {"strides", attr_ints({2, 1})}, {"pads", attr_ints({1, 1, 1, 1})}},
                           13,
                           1,
                           abc});
    add("conv depthwise 1-D", {"Conv",
                               {rnd({2, 3, 7}, 1), rnd({6, 1, 3}, 2), rnd({6}, 3)},
                               {{"group", attr_i(3)}, {"strides", attr_ints({2})}, {"pads", attr_ints({1, 2})}},
                               13,
                               1,
                               abc});
    add("conv same_upper stride 2", {"Conv",
                                     {rnd({1, 2, 6, 5}, 1), rnd({2, 2, 3, 3}, 2), rnd({2}, 3)},
                                     {{"auto_pad", attr_s("SAME_UPPER")}, {"strides", attr_ints({2, 2})}},
                                     13,
                                     1,
                                     abc});
    add("conv same_lower",
        {"Conv", {rnd({1, 2, 5, 5}, 1), rnd({2, 2, 2, 2}, 2)}, {{"auto_pad", attr_s("SAME_LOWER")}}, 13, 1, {0, 1}});
    add("conv valid", {"Conv",
                       {rnd({1, 2, 5, 6}, 1), rnd({3, 2, 2, 3}, 2), rnd({3}, 3)},
                       {{"auto_pad", attr_s("VALID")}, {"strides", attr_ints({2, 2})}},
                       13,
                       1,
                       abc});
    add("conv pointwise", {"Conv", {rnd({2, 3, 4, 4}, 1), rnd({5, 3, 1, 1}, 2), rnd({5}, 3)}, {}, 13, 1, abc});
    add("conv pointwise group",
        {"Conv", {rnd({1, 4, 3, 3}, 1), rnd({4, 2, 1, 1}, 2)}, {{"group", attr_i(2)}}, 13, 1, {0, 1}});
    add("conv 3-D", {"Conv",
                     {rnd({1, 2, 4, 4, 3}, 1), rnd({3, 2, 2, 3, 2}, 2), rnd({3}, 3)},
                     {{"pads", attr_ints({1, 0, 1, 0, 1, 0})}},
                     13,
                     1,
                     abc});
    add("conv opset 9", {"Conv", {rnd({1, 2, 4, 4}, 1), rnd({2, 2, 3, 3}, 2), rnd({2}, 3)}, {}, 9, 1, abc});

    // --- ConvTranspose ----------------------------------------------------------------------
    add("convtranspose 2-D",
        {"ConvTranspose", {rnd({1, 3, 3, 3}, 1), rnd({3, 2, 3, 3}, 2), rnd({2}, 3)}, {}, 13, 1, abc});
    add("convtranspose strides pads output_padding",
        {"ConvTranspose",
         {rnd({2, 2, 3, 3}, 1), rnd({2, 3, 3, 3}, 2), rnd({3}, 3)},
         {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 0, 1, 2})}, {"output_padding", attr_ints({1, 1})}},
         13,
         1,
         abc});
    add("convtranspose group", {"ConvTranspose",
                                {rnd({1, 4, 3, 3}, 1), rnd({4, 3, 2, 2}, 2), rnd({6}, 3)},
                                {{"group", attr_i(2)}},
                                13,
                                1,
                                abc});
    add("convtranspose dilations", {"ConvTranspose",
                                    {rnd({1, 2, 3, 4}, 1), rnd({2, 2, 2, 3}, 2)},
                                    {{"dilations", attr_ints({2, 2})}},
                                    13,
                                    1,
                                    {0, 1}});
    add("convtranspose 1-D", {"ConvTranspose",
                              {rnd({2, 2, 5}, 1), rnd({2, 3, 3}, 2), rnd({3}, 3)},
                              {{"strides", attr_ints({3})}},
                              13,
                              1,
                              abc});
    add("convtranspose output_shape beyond full", {"ConvTranspose",
                                                   {rnd({1, 2, 3}, 1), rnd({2, 2, 3}, 2), rnd({2}, 3)},
                                                   {{"strides", attr_ints({2})}, {"output_shape", attr_ints({9})}},
                                                   13,
                                                   1,
                                                   abc});
    add("convtranspose same_upper", {"ConvTranspose",
                                     {rnd({1, 2, 3, 3}, 1), rnd({2, 2, 3, 3}, 2)},
                                     {{"strides", attr_ints({2, 2})}, {"auto_pad", attr_s("SAME_UPPER")}},
                                     13,
                                     1,
                                     {0, 1}});
    add("convtranspose pointwise",
        {"ConvTranspose", {rnd({2, 3, 3, 2}, 1), rnd({3, 4, 1, 1}, 2), rnd({4}, 3)}, {}, 13, 1, abc});
    add("convtranspose 3-D", {"ConvTranspose",
                              {rnd({1, 2, 2, 3, 2}, 1), rnd({2, 2, 2, 2, 2}, 2), rnd({2}, 3)},
                              {{"strides", attr_ints({2, 1, 2})}},
                              13,
                              1,
                              abc});

    // --- MaxPool (distinct values: no ties within a step) ----------------------------------
    add("maxpool 2x2 stride 2", {"MaxPool",
                                 {distinct({2, 2, 4, 6}, 1)},
                                 {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}});
    add("maxpool overlapping pads", {"MaxPool",
                                     {distinct({1, 2, 5, 5}, 2)},
                                     {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}}});
    add("maxpool ceil_mode",
        {"MaxPool",
         {distinct({1, 2, 5, 6}, 3)},
         {{"kernel_shape", attr_ints({2, 3})}, {"strides", attr_ints({2, 2})}, {"ceil_mode", attr_i(1)}}});
    add("maxpool dilations", {"MaxPool",
                              {distinct({1, 1, 7, 7}, 4)},
                              {{"kernel_shape", attr_ints({2, 2})}, {"dilations", attr_ints({2, 3})}}});
    add("maxpool same_lower", {"MaxPool",
                               {distinct({1, 2, 5, 5}, 5)},
                               {{"kernel_shape", attr_ints({2, 2})}, {"auto_pad", attr_s("SAME_LOWER")}}});
    add("maxpool 1-D",
        {"MaxPool", {distinct({2, 3, 9}, 6)}, {{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({2})}}});
    add("maxpool 3-D", {"MaxPool", {distinct({1, 2, 4, 4, 4}, 7)}, {{"kernel_shape", attr_ints({2, 2, 2})}}});
    add("maxpool with Indices", {"MaxPool",
                                 {distinct({1, 2, 4, 4}, 8)},
                                 {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 1})}},
                                 12,
                                 2});

    // --- AveragePool, GlobalAveragePool -----------------------------------------------------
    const std::map<std::string, Attribute> k3p1{{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}};
    add("averagepool pads exclude", {"AveragePool", {rnd({1, 2, 5, 4}, 1)}, k3p1});
    auto k3p1_inc = k3p1;
    k3p1_inc["count_include_pad"] = attr_i(1);
    add("averagepool pads include", {"AveragePool", {rnd({1, 2, 5, 4}, 1)}, k3p1_inc});
    add("averagepool ceil_mode exclude",
        {"AveragePool",
         {rnd({1, 1, 5, 6}, 2)},
         {{"kernel_shape", attr_ints({2, 3})}, {"strides", attr_ints({2, 2})}, {"ceil_mode", attr_i(1)}}});
    add("averagepool ceil_mode pads include", {"AveragePool",
                                               {rnd({1, 1, 5, 6}, 2)},
                                               {{"kernel_shape", attr_ints({3, 3})},
                                                {"strides", attr_ints({2, 2})},
                                                {"pads", attr_ints({1, 1, 1, 1})},
                                                {"ceil_mode", attr_i(1)},
                                                {"count_include_pad", attr_i(1)}}});
    add("averagepool same_upper", {"AveragePool",
                                   {rnd({1, 2, 5, 5}, 3)},
                                   {{"kernel_shape", attr_ints({2, 2})}, {"auto_pad", attr_s("SAME_UPPER")}}});
    add("averagepool 1-D",
        {"AveragePool", {rnd({2, 2, 7}, 4)}, {{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({2})}}});
    add("averagepool 3-D", {"AveragePool",
                            {rnd({1, 1, 3, 4, 3}, 5)},
                            {{"kernel_shape", attr_ints({2, 2, 2})}, {"pads", attr_ints({0, 1, 0, 1, 0, 1})}}});
    add("globalaveragepool", {"GlobalAveragePool", {rnd({2, 3, 4, 5}, 1)}});
    add("globalaveragepool 1-D", {"GlobalAveragePool", {rnd({2, 3, 6}, 2)}});

    // --- BatchNormalization (every input; var kept away from 0) -----------------------------
    const std::vector<std::size_t> all5{0, 1, 2, 3, 4};
    add("batchnorm", {"BatchNormalization",
                      {rnd({2, 3, 3, 4}, 1), rnd({3}, 2, 0.5f, 2), rnd({3}, 3), rnd({3}, 4), rnd({3}, 5, 0.5f, 1.5f)},
                      {},
                      15,
                      1,
                      all5});
    add("batchnorm 2-D input epsilon",
        {"BatchNormalization",
         {rnd({5, 3}, 1), rnd({3}, 2, 0.5f, 2), rnd({3}, 3), rnd({3}, 4), rnd({3}, 5, 0.5f, 1.5f)},
         {{"epsilon", attr_f(0.1f)}},
         9,
         1,
         all5});

    // --- LayerNormalization -----------------------------------------------------------------
    add("layernorm last axis", {"LayerNormalization", {rnd({3, 5}, 1), rnd({5}, 2), rnd({5}, 3)}, {}, 17, 1, abc});
    add("layernorm axis 1",
        {"LayerNormalization", {rnd({2, 3, 4}, 1), rnd({3, 4}, 2), rnd({3, 4}, 3)}, {{"axis", attr_i(1)}}, 17, 1, abc});
    add("layernorm scale broadcast", {"LayerNormalization",
                                      {rnd({2, 3, 4}, 1), rnd({1, 4}, 2), rnd({3, 1}, 3)},
                                      {{"axis", attr_i(-2)}},
                                      17,
                                      1,
                                      abc});
    add("layernorm no bias",
        {"LayerNormalization", {rnd({4, 6}, 1), rnd({6}, 2)}, {{"epsilon", attr_f(0.01f)}}, 17, 1, {0, 1}});
    add("layernorm axis 0",
        {"LayerNormalization", {rnd({2, 3}, 1), rnd({2, 3}, 2), rnd({2, 3}, 3)}, {{"axis", attr_i(0)}}, 17, 1, abc});
    add("layernorm Mean and InvStdDev outputs",
        {"LayerNormalization", {rnd({3, 4}, 1), rnd({4}, 2), rnd({4}, 3)}, {}, 17, 3, abc});

    // --- Softmax, LogSoftmax ----------------------------------------------------------------
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      const std::string s(op);
      const auto name = [&](const char* what) { return (s + " " + what); };  // newRow copies it
      add(name("opset 11 default axis (flattened)").c_str(), {s, {rnd({2, 3, 4}, 1, -2, 2)}, {}, 11});
      add(name("opset 11 axis 2").c_str(), {s, {rnd({2, 3, 4}, 2, -2, 2)}, {{"axis", attr_i(2)}}, 11});
      add(name("opset 11 axis 0").c_str(), {s, {rnd({2, 3, 4}, 3, -2, 2)}, {{"axis", attr_i(0)}}, 11});
      add(name("opset 13 default axis").c_str(), {s, {rnd({2, 3, 4}, 4, -2, 2)}, {}, 13});
      add(name("opset 13 axis 1 (not flattened)").c_str(), {s, {rnd({2, 3, 4}, 5, -2, 2)}, {{"axis", attr_i(1)}}, 13});
      add(name("opset 13 axis -3").c_str(), {s, {rnd({2, 3, 4}, 6, -2, 2)}, {{"axis", attr_i(-3)}}, 13});
    }

    // --- ReduceMean, ReduceSum --------------------------------------------------------------
    add("reducemean axes 1 keepdims", {"ReduceMean", {rnd({2, 3, 4}, 1)}, {{"axes", attr_ints({1})}}});
    add("reducemean axes -1 0 no keepdims",
        {"ReduceMean", {rnd({2, 3, 4}, 2)}, {{"axes", attr_ints({-1, 0})}, {"keepdims", attr_i(0)}}});
    add("reducemean all", {"ReduceMean", {rnd({2, 3, 4}, 3)}, {{"keepdims", attr_i(0)}}});
    add("reducesum opset 11 axes attribute", {"ReduceSum", {rnd({2, 3, 4}, 4)}, {{"axes", attr_ints({0, 2})}}, 11});
    add("reducesum axes input no keepdims",
        {"ReduceSum", {rnd({2, 3, 4}, 5), i64({1}, {-2})}, {{"keepdims", attr_i(0)}}, 13});
    add("reducesum empty axes input: all", {"ReduceSum", {rnd({2, 3, 4}, 6), i64({0}, {})}, {}, 13});
    add("reducesum no axes: all", {"ReduceSum", {rnd({2, 3}, 7)}, {}, 13});
    add("reducesum noop_with_empty_axes", {"ReduceSum", {rnd({2, 3}, 8)}, {{"noop_with_empty_axes", attr_i(1)}}, 13});
    add("reducesum axes 1 2 of 4-D", {"ReduceSum", {rnd({2, 3, 2, 2}, 9), i64({2}, {1, 2})}, {}, 13});
  }

  void finite_differences() {
    QFETCH(int, index);
    const GradCheck& c = cases()[static_cast<std::size_t>(index)];
    QCOMPARE(QString::fromStdString(test::grad_check(c)), QString());
  }

  // A tie goes to the first maximal element in scan order; windows that share a maximum add up
  // their gradients; an element no window picks gets 0.
  void maxpool_routing() {
    const auto r = backward("MaxPool", {f32({1, 1, 2, 3}, {7, 7, 1, 7, 7, 2})},
                            {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({1, 1})}}, 13, 1,
                            {f32({1, 1, 1, 2}, {10, 100})}, {0});
    QVERIFY(r.grads[0]);
    // Window 0 covers (0,0)=7 (0,1)=7 (1,0)=7 (1,1)=7: the first, (0,0). Window 1 covers (0,1)=7
    // (0,2)=1 (1,1)=7 (1,2)=2: the first 7, (0,1).
    QCOMPARE(compare(*r.grads[0], {10, 100, 0, 0, 0, 0}), QString());
    const auto s = backward("MaxPool", {f32({1, 1, 4}, {0, 5, 0, 1})}, {{"kernel_shape", attr_ints({2})}}, 13, 1,
                            {f32({1, 1, 3}, {1, 2, 4})}, {0});
    QCOMPARE(compare(*s.grads[0], {0, 3, 0, 4}), QString());
  }

  // Divisors of [x0 x1 x2] with kernel 3 and one pad each side: 2, 3, 2 without the padding,
  // 3, 3, 3 with it.
  void averagepool_counts() {
    const std::map<std::string, Attribute> attrs{{"kernel_shape", attr_ints({3})}, {"pads", attr_ints({1, 1})}};
    const auto exclude =
        backward("AveragePool", {f32({1, 1, 3}, {1, 2, 3})}, attrs, 13, 1, {f32({1, 1, 3}, {6, 12, 18})}, {0});
    QCOMPARE(compare(*exclude.grads[0], {6.0 / 2 + 12.0 / 3, 6.0 / 2 + 12.0 / 3 + 18.0 / 2, 12.0 / 3 + 18.0 / 2}),
             QString());
    auto inc = attrs;
    inc["count_include_pad"] = attr_i(1);
    const auto include =
        backward("AveragePool", {f32({1, 1, 3}, {1, 2, 3})}, inc, 13, 1, {f32({1, 1, 3}, {6, 12, 18})}, {0});
    QCOMPARE(compare(*include.grads[0], {6, 12, 10}), QString());
  }

  // y = (x - mean) * scale / sqrt(var + eps) + B by hand: x = [1, 3], scale 2, mean 1, var 4,
  // eps 0, dy = [1, 1]: dx = 1, dscale = (0 + 2) / 2, dB = 2, dmean = -2, dvar = -(2 * 2) / (2 * 8).
  void batchnorm_by_hand() {
    const auto r = backward("BatchNormalization",
                            {f32({2, 1}, {1, 3}), f32({1}, {2}), f32({1}, {5}), f32({1}, {1}), f32({1}, {4})},
                            {{"epsilon", attr_f(0)}}, 15, 1, {f32({2, 1}, {1, 1})}, {0, 1, 2, 3, 4});
    QCOMPARE(compare(*r.grads[0], {1, 1}), QString());
    QCOMPARE(compare(*r.grads[1], {1}), QString());
    QCOMPARE(compare(*r.grads[2], {2}), QString());
    QCOMPARE(compare(*r.grads[3], {-2}), QString());
    QCOMPARE(compare(*r.grads[4], {-0.25}), QString());
  }

  // Gemm by hand: A = [1 2], B = [3; 4], C = 5, beta 2, alpha 3, dy = 1: dA = 3 B^T, dB = 3 A^T,
  // dC = 2.
  void gemm_by_hand() {
    const auto r = backward("Gemm", {f32({1, 2}, {1, 2}), f32({2, 1}, {3, 4}), f32({}, {5})},
                            {{"alpha", attr_f(3)}, {"beta", attr_f(2)}}, 13, 1, {f32({1, 1}, {1})}, {0, 1, 2});
    QCOMPARE(compare(*r.grads[0], {9, 12}), QString());
    QCOMPARE(compare(*r.grads[1], {3, 6}), QString());
    QCOMPARE(compare(*r.grads[2], {2}), QString());
  }

  // Large inputs take the other code paths: enough images for one block per thread (weight and
  // bias gradients summed per block), or one large image whose products and im2col / col2im
  // split over the pool. Forward and backward against direct sums.
  void conv_large_data() {
    QTest::addColumn<bool>("transpose");
    QTest::addColumn<Shape_>("x");
    QTest::addColumn<Shape_>("w");
    QTest::addColumn<int>("group");
    QTest::addColumn<int>("stride");
    QTest::addColumn<int>("pad");
    QTest::addColumn<int>("dilation");
    QTest::newRow("conv images over the pool") << false << Shape_{6, 8, 9, 9} << Shape_{8, 8, 3, 3} << 1 << 1 << 1 << 1;
    QTest::newRow("conv one image split") << false << Shape_{1, 16, 24, 24} << Shape_{16, 16, 3, 3} << 1 << 1 << 1 << 1;
    QTest::newRow("conv groups strides over the pool")
        << false << Shape_{4, 8, 12, 12} << Shape_{12, 4, 3, 3} << 2 << 2 << 1 << 2;
    QTest::newRow("conv pointwise over the pool")
        << false << Shape_{4, 16, 8, 8} << Shape_{16, 16, 1, 1} << 1 << 1 << 0 << 1;
    // Depthwise convolutions run directly (no im2col), one plane per channel.
    QTest::newRow("conv depthwise over the pool")
        << false << Shape_{4, 16, 9, 9} << Shape_{16, 1, 3, 3} << 16 << 2 << 1 << 1;
    QTest::newRow("conv depthwise multiplier dilated")
        << false << Shape_{3, 8, 7, 7} << Shape_{16, 1, 3, 3} << 8 << 1 << 2 << 2;
    // Small images: several images' column matrices side by side in one product, in blocks
    // (the last one partial) over the pool.
    QTest::newRow("conv small images in blocks")
        << false << Shape_{90, 4, 5, 5} << Shape_{6, 2, 3, 3} << 2 << 1 << 1 << 1;
    // A plane too large for the zero-bordered copy: im2col checks ranges per row.
    QTest::newRow("conv large plane") << false << Shape_{1, 2, 130, 131} << Shape_{3, 2, 3, 3} << 1 << 2 << 1 << 1;
    QTest::newRow("conv small images strided block")
        << false << Shape_{7, 3, 6, 6} << Shape_{5, 3, 2, 2} << 1 << 2 << 0 << 1;
    QTest::newRow("convtranspose images over the pool")
        << true << Shape_{6, 8, 9, 9} << Shape_{8, 8, 3, 3} << 1 << 2 << 1 << 1;
    QTest::newRow("convtranspose one image split")
        << true << Shape_{1, 16, 24, 24} << Shape_{16, 16, 3, 3} << 1 << 1 << 1 << 1;
    QTest::newRow("convtranspose group over the pool")
        << true << Shape_{4, 8, 8, 8} << Shape_{8, 3, 3, 3} << 2 << 1 << 0 << 2;
  }

  void conv_large() {
    QFETCH(bool, transpose);
    QFETCH(Shape_, x);
    QFETCH(Shape_, w);
    QFETCH(int, group);
    QFETCH(int, stride);
    QFETCH(int, pad);
    QFETCH(int, dilation);
    const ConvAttrs at{group, stride, pad, dilation};
    const Array xa = rnd(x, 11), wa = rnd(w, 12);
    const std::int64_t m = transpose ? w[1] * group : w[0];
    const Array ba = rnd({m}, 13);
    const std::string op = transpose ? "ConvTranspose" : "Conv";
    const auto y = test::run_node(op, {xa, wa, ba}, at.map(), 13, 1);
    const Array dy = rnd(y[0].shape(), 14);
    const auto r = backward(op, {xa, wa, ba}, at.map(), 13, 1, {dy}, {0, 1, 2});
    const Direct d = direct_sums(transpose, xa, wa, ba, dy, at);
    QCOMPARE(compare(r.out[0], d.y), QString());
    QCOMPARE(compare(*r.grads[0], d.dx), QString());
    QCOMPARE(compare(*r.grads[1], d.dw), QString());
    QCOMPARE(compare(*r.grads[2], d.db), QString());
  }

  // Batched products over the pool (broadcast A and B), and the one-product path for a shared B.
  void matmul_large_data() {
    QTest::addColumn<Shape_>("a");
    QTest::addColumn<Shape_>("b");
    QTest::newRow("both broadcast") << Shape_{4, 1, 16, 32} << Shape_{1, 3, 32, 16};
    QTest::newRow("batch x batch") << Shape_{6, 24, 32} << Shape_{6, 32, 20};
    QTest::newRow("shared B") << Shape_{8, 40, 48} << Shape_{1, 48, 40};
  }

  void matmul_large() {
    QFETCH(Shape_, a);
    QFETCH(Shape_, b);
    const Array aa = rnd(a, 21), ba = rnd(b, 22);
    const auto y = test::run_node("MatMul", {aa, ba}, {}, 13, 1);
    const Array dy = rnd(y[0].shape(), 23);
    const auto r = backward("MatMul", {aa, ba}, {}, 13, 1, {dy}, {0, 1});
    std::vector<double> da, db;
    direct_matmul(aa, ba, dy, da, db);
    QCOMPARE(compare(*r.grads[0], da), QString());
    QCOMPARE(compare(*r.grads[1], db), QString());
  }

  // Only wanted inputs get a gradient; no gradient into the output gives none at all.
  void wants_and_absent_gradients() {
    const std::vector<std::optional<Array>> in{rnd({1, 2, 4, 4}, 1), rnd({3, 2, 3, 3}, 2), rnd({3}, 3)};
    const Array dy = rnd({1, 3, 2, 2}, 4);
    const auto only_w = backward("Conv", in, {}, 13, 1, {dy}, {1});
    QCOMPARE(only_w.grads.size(), std::size_t{3});
    QVERIFY(!only_w.grads[0] && only_w.grads[1] && !only_w.grads[2]);
    const auto none = backward("Conv", in, {}, 13, 1, {std::nullopt}, {0, 1, 2});
    QVERIFY(!none.grads[0] && !none.grads[1] && !none.grads[2]);
    // LayerNormalization with a gradient into InvStdDev only: x still gets one, scale and B do
    // not change InvStdDev (zeros).
    const std::vector<std::optional<Array>> ln{f32({1, 2}, {1, 3}), f32({2}, {1, 1}), f32({2}, {0, 0})};
    const auto inv_only = backward("LayerNormalization", ln, {{"epsilon", attr_f(0)}}, 17, 3,
                                   {std::nullopt, std::nullopt, f32({1, 1}, {1})}, {0, 1, 2});
    // x = [1, 3]: mean 2, var 1, inv = 1 / sqrt(var); d inv / dx = -(x - mean) inv^3 / 2 = [0.5, -0.5].
    QCOMPARE(compare(*inv_only.grads[0], {0.5, -0.5}), QString());
    QCOMPARE(compare(*inv_only.grads[1], {0, 0}), QString());
    // Integer data and the axes input have no gradient.
    const auto ints = backward("ReduceSum", {i64({2, 2}, {1, 2, 3, 4}), i64({1}, {0})}, {}, 13, 1,
                               {i64({1, 2}, {1, 1}).cast(DType::F32)}, {0, 1});
    QVERIFY(!ints.grads[0] && !ints.grads[1]);
    const auto u8 = backward("MaxPool", {Array(DType::U8, {1, 1, 2, 2})}, {{"kernel_shape", attr_ints({2, 2})}}, 13, 1,
                             {f32({1, 1, 1, 1}, {1})}, {0});
    QVERIFY(!u8.grads[0]);
  }

  // F64 inputs (where the forward takes them) get F64 gradients equal to the F32 ones.
  void f64_gradients_data() {
    QTest::addColumn<QString>("op");
    QTest::newRow("MaxPool") << "MaxPool";
    QTest::newRow("AveragePool") << "AveragePool";
    QTest::newRow("GlobalAveragePool") << "GlobalAveragePool";
    QTest::newRow("BatchNormalization") << "BatchNormalization";
    QTest::newRow("ReduceMean") << "ReduceMean";
    QTest::newRow("ReduceSum") << "ReduceSum";
  }

  void f64_gradients() {
    QFETCH(QString, op);
    const std::string o = op.toStdString();
    std::vector<std::optional<Array>> in{distinct({2, 3, 4, 4}, 3)};
    std::map<std::string, Attribute> attrs;
    std::vector<std::size_t> want{0};
    if (o == "MaxPool" || o == "AveragePool")
      attrs = {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}, {"strides", attr_ints({2, 2})}};
    if (o == "ReduceMean") attrs = {{"axes", attr_ints({1, 3})}};
    if (o == "BatchNormalization") {
      in.insert(in.end(), {rnd({3}, 2, 0.5f, 2), rnd({3}, 3), rnd({3}, 4), rnd({3}, 5, 0.5f, 1.5f)});
      want = {0, 1, 2, 3, 4};
    }
    const auto r32 = test::run_node(o, in, attrs, 15, 1);
    const Array dy = rnd(r32[0].shape(), 7);
    const auto g32 = backward(o, in, attrs, 15, 1, {dy}, want);
    std::vector<std::optional<Array>> in64;
    for (const auto& a : in) in64.push_back(a->cast(DType::F64));
    const auto g64 = backward(o, in64, attrs, 15, 1, {dy.cast(DType::F64)}, want);
    for (const auto i : want) {
      QVERIFY(g32.grads[i] && g64.grads[i]);
      QCOMPARE(g64.grads[i]->type(), DType::F64);
      const auto v = g32.grads[i]->values<float>();
      QCOMPARE(compare(*g64.grads[i], std::vector<double>(v.begin(), v.end()), 1e-5), QString());
    }
  }
};

QTEST_GUILESS_MAIN(TestEngineGradNn)
#include "test_engine_grad_nn.moc"
