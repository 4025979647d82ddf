// Convolution, pooling, normalisation and linear operators on small arrays whose results were
// worked out by hand (Conv with group, dilation and SAME_UPPER / SAME_LOWER padding, padding
// wider than the input, ConvTranspose's output_padding / pads / output_shape, MaxPool's
// ceil_mode and Indices in both storage orders, AveragePool with and without the padding in the
// count, Softmax's opset-11 and opset-13 axes, Gemm's transposes and C broadcast, MatMul's 1-D
// and batch broadcasting, reductions); the errors the operators report; and a Conv / BN / pool /
// Gemm / LayerNorm network run end to end against torch 1.13 (tests/tools/make_engine_nn_reference.py).
#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <cmath>
#include <optional>

#include "engine/op_registry.h"
#include "engine_node.h"
#include "json_file.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"
#include "test_paths.h"

using namespace paramscope;
using namespace paramscope::engine;

namespace {

using Shape_ = std::vector<std::int64_t>;

Array f32(Shape_ s, std::initializer_list<float> v) {
  return Array::of<float>(std::move(s), v);
}
Array i64(Shape_ s, std::initializer_list<std::int64_t> v) {
  return Array::of<std::int64_t>(std::move(s), v);
}

using test::attr_f;
using test::attr_i;
using test::attr_ints;
using test::attr_s;

struct Case {
  std::string op;
  std::vector<std::optional<Array>> in;
  std::map<std::string, Attribute> attrs = {};
  std::vector<Array> out = {};  ///< expected outputs (F32 compared to 1e-5 relative, others exactly)
  int opset = 13;
  Error::Kind error = Error::Kind::Usage;  ///< Usage: no error expected
  std::string message = {};                ///< a fragment of the expected error
};

std::vector<Array> run(const Case& c, std::size_t outputs) {
  return test::run_node(c.op, c.in, c.attrs, c.opset, outputs);
}

std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

void add(const char* name, Case c) {
  QTest::newRow(name) << static_cast<int>(cases().size());
  cases().push_back(std::move(c));
}

bool close(double got, double want, double rtol, double atol) {
  if (std::isnan(want)) return std::isnan(got);
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

// ln(3), so that exp gives exact small ratios.
const float kLn3 = std::log(3.0f);

}  // namespace

class TestEngineNnOps : public QObject {
  Q_OBJECT
 private slots:
  void forward_data() {
    QTest::addColumn<int>("index");
    cases().clear();
    // --- Conv -------------------------------------------------------------------------------
    // group 2: output 0 sees channel 0 through taps (0,0), (1,1); output 1 sums channel 1 (all
    // ones) over its taps. Dilation 2 makes the kernel span 3; SAME_UPPER pads 1 on each side.
    add("conv group dilation same_upper",
        {"Conv",
         {f32({1, 2, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1}),
          f32({2, 1, 2, 2}, {1, 0, 0, 1, 1, 1, 1, 1}), f32({2}, {0.5f, -1})},
         {{"group", attr_i(2)}, {"dilations", attr_ints({2, 2})}, {"auto_pad", attr_s("SAME_UPPER")}},
         {f32({1, 2, 3, 3}, {5.5f, 6.5f, 0.5f, 8.5f, 10.5f, 2.5f, 0.5f, 4.5f, 5.5f,  //
                             0, 1, 0, 1, 3, 1, 0, 1, 0})}});
    // Odd total padding (1): SAME_UPPER puts it at the end, SAME_LOWER at the start.
    add("conv 1d same_upper", {"Conv",
                               {f32({1, 1, 4}, {1, 2, 3, 4}), f32({1, 1, 2}, {1, 10})},
                               {{"auto_pad", attr_s("SAME_UPPER")}},
                               {f32({1, 1, 4}, {21, 32, 43, 4})}});
    add("conv 1d same_lower", {"Conv",
                               {f32({1, 1, 4}, {1, 2, 3, 4}), f32({1, 1, 2}, {1, 10})},
                               {{"auto_pad", attr_s("SAME_LOWER")}},
                               {f32({1, 1, 4}, {10, 21, 32, 43})}});
    // Padding wider than the input: some kernel taps meet only padding.
    add("conv pads wider than input", {"Conv",
                                       {f32({1, 1, 1}, {2}), f32({1, 1, 3}, {1, 2, 3})},
                                       {{"pads", attr_ints({2, 2})}},
                                       {f32({1, 1, 3}, {6, 4, 2})}});
    // Stride 2, VALID, two images and two output channels (no group): y = sum over the window.
    add("conv strides valid batch",
        {"Conv",
         {f32({2, 1, 1, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50}), f32({2, 1, 1, 2}, {1, 1, 1, -1})},
         {{"strides", attr_ints({1, 2})}, {"auto_pad", attr_s("VALID")}},
         {f32({2, 2, 1, 2}, {3, 7, -1, -1, 30, 70, -10, -10})}});
    // --- ConvTranspose ----------------------------------------------------------------------
    // x0 spreads over positions 0..2, x1 (weight 2) over 2..4; output_padding adds position 5.
    add("convtranspose output_padding", {"ConvTranspose",
                                         {f32({1, 1, 2}, {1, 2}), f32({1, 1, 3}, {1, 1, 1}), f32({1}, {0.5f})},
                                         {{"strides", attr_ints({2})}, {"output_padding", attr_ints({1})}},
                                         {f32({1, 1, 6}, {1.5f, 1.5f, 3.5f, 2.5f, 2.5f, 0.5f})}});
    add("convtranspose pads", {"ConvTranspose",
                               {f32({1, 1, 2}, {1, 2}), f32({1, 1, 3}, {1, 1, 1})},
                               {{"strides", attr_ints({2})}, {"pads", attr_ints({1, 1})}},
                               {f32({1, 1, 3}, {1, 3, 2})}});
    add("convtranspose output_shape beyond full", {"ConvTranspose",
                                                   {f32({1, 1, 2}, {1, 2}), f32({1, 1, 3}, {1, 1, 1})},
                                                   {{"strides", attr_ints({2})}, {"output_shape", attr_ints({7})}},
                                                   {f32({1, 1, 7}, {1, 1, 3, 2, 2, 0, 0})}});
    // group 2: each input channel feeds its own output channel.
    add("convtranspose group", {"ConvTranspose",
                                {f32({1, 2, 2}, {1, 2, 3, 4}), f32({2, 1, 2}, {1, 1, 1, -1})},
                                {{"group", attr_i(2)}},
                                {f32({1, 2, 3}, {1, 3, 2, 3, 1, -4})}});
    // --- MaxPool ----------------------------------------------------------------------------
    // 4x4 plane, kernel 3, stride 2: ceil_mode gives 2x2 windows (the last ones cut short).
    // Indices: row-major over the whole tensor; storage_order 1 makes the spatial part
    // column-major (h + w * H). Channel 1 = channel 0 + 100, so its indices are 16 later.
    const auto plane = {1.f, 5.f, 2.f, 0.f, 3.f, 4.f, 8.f, 7.f, 6.f, 2.f, 0.f, 1.f, 0.f, 3.f, 4.f, 11.f};
    std::vector<float> two(plane);
    for (float v : plane) two.push_back(v + 100);
    const Array x2 = Array::of<float>({1, 2, 4, 4}, std::span<const float>(two));
    add("maxpool ceil_mode indices",
        {"MaxPool",
         {x2},
         {{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({2, 2})}, {"ceil_mode", attr_i(1)}},
         {f32({1, 2, 2, 2}, {8, 8, 6, 11, 108, 108, 106, 111}), i64({1, 2, 2, 2}, {6, 6, 8, 15, 22, 22, 24, 31})}});
    add("maxpool ceil_mode indices column-major",
        {"MaxPool",
         {x2},
         {{"kernel_shape", attr_ints({3, 3})},
          {"strides", attr_ints({2, 2})},
          {"ceil_mode", attr_i(1)},
          {"storage_order", attr_i(1)}},
         {f32({1, 2, 2, 2}, {8, 8, 6, 11, 108, 108, 106, 111}), i64({1, 2, 2, 2}, {9, 9, 2, 15, 25, 25, 18, 31})}});
    add("maxpool floor mode", {"MaxPool",
                               {x2},
                               {{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({2, 2})}},
                               {f32({1, 2, 1, 1}, {8, 108})}});
    // ceil_mode never starts a window in the end padding: 2 outputs, not 3.
    add("maxpool ceil_mode end padding", {"MaxPool",
                                          {f32({1, 1, 4}, {3, 1, 4, 1})},
                                          {{"kernel_shape", attr_ints({2})},
                                           {"strides", attr_ints({2})},
                                           {"pads", attr_ints({0, 1})},
                                           {"ceil_mode", attr_i(1)}},
                                          {f32({1, 1, 2}, {3, 4})}});
    // Dilation 2: taps o - 1 and o + 1 (SAME pads 1 on each side).
    add("maxpool dilation same",
        {"MaxPool",
         {f32({1, 1, 5}, {5, 1, 2, 9, 3})},
         {{"kernel_shape", attr_ints({2})}, {"dilations", attr_ints({2})}, {"auto_pad", attr_s("SAME_UPPER")}},
         {f32({1, 1, 5}, {1, 5, 9, 3, 9})}});
    // Odd padding: SAME_LOWER pads the start (taps o - 1, o), SAME_UPPER the end (o, o + 1).
    add("maxpool same_lower", {"MaxPool",
                               {f32({1, 1, 5}, {5, 1, 2, 9, 3})},
                               {{"kernel_shape", attr_ints({2})}, {"auto_pad", attr_s("SAME_LOWER")}},
                               {f32({1, 1, 5}, {5, 5, 2, 9, 9})}});
    add("maxpool same_upper", {"MaxPool",
                               {f32({1, 1, 5}, {5, 1, 2, 9, 3})},
                               {{"kernel_shape", attr_ints({2})}, {"auto_pad", attr_s("SAME_UPPER")}},
                               {f32({1, 1, 5}, {5, 2, 9, 9, 3})}});
    // --- AveragePool, GlobalAveragePool -----------------------------------------------------
    add("averagepool pads exclude", {"AveragePool",
                                     {f32({1, 1, 3}, {3, 6, 9})},
                                     {{"kernel_shape", attr_ints({2})}, {"pads", attr_ints({1, 1})}},
                                     {f32({1, 1, 4}, {3, 4.5f, 7.5f, 9})}});
    add("averagepool pads include",
        {"AveragePool",
         {f32({1, 1, 3}, {3, 6, 9})},
         {{"kernel_shape", attr_ints({2})}, {"pads", attr_ints({1, 1})}, {"count_include_pad", attr_i(1)}},
         {f32({1, 1, 4}, {1.5f, 4.5f, 7.5f, 4.5f})}});
    add("averagepool ceil_mode",
        {"AveragePool",
         {f32({1, 1, 5}, {1, 2, 3, 4, 5})},
         {{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})}, {"ceil_mode", attr_i(1)}},
         {f32({1, 1, 3}, {1.5f, 3.5f, 5})}});
    add("globalaveragepool",
        {"GlobalAveragePool", {f32({1, 2, 1, 2}, {1, 2, 3, 4})}, {}, {f32({1, 2, 1, 1}, {1.5f, 3.5f})}});
    // --- BatchNormalization, LayerNormalization ---------------------------------------------
    add("batchnorm",
        {"BatchNormalization",
         {f32({1, 2, 1, 2}, {1, 2, 3, 4}), f32({2}, {2, 1}), f32({2}, {0, 1}), f32({2}, {1, 3}), f32({2}, {4, 0.25f})},
         {{"epsilon", attr_f(0)}},
         {f32({1, 2, 1, 2}, {0, 1, 1, 3})}});
    add("layernorm outputs", {"LayerNormalization",
                              {f32({2, 2}, {1, 3, 2, 6}), f32({2}, {2, 3}), f32({2}, {1, 0})},
                              {{"epsilon", attr_f(0)}},
                              {f32({2, 2}, {-1, 3, -1, 3}), f32({2, 1}, {2, 4}), f32({2, 1}, {1, 0.5f})},
                              17});
    // axis 0 normalises the whole [2, 2]: mean 3, variance 3.5.
    add("layernorm axis 0", {"LayerNormalization",
                             {f32({2, 2}, {1, 3, 2, 6}), f32({1}, {1})},
                             {{"axis", attr_i(0)}, {"epsilon", attr_f(0)}},
                             {f32({2, 2}, {-2 / std::sqrt(3.5f), 0, -1 / std::sqrt(3.5f), 3 / std::sqrt(3.5f)})},
                             17});
    // --- Softmax, LogSoftmax: [[0, ln3], [ln3, ln3]] ----------------------------------------
    const Array sx = f32({1, 2, 2}, {0, kLn3, kLn3, kLn3});
    add("softmax opset 13 default axis", {"Softmax", {sx}, {}, {f32({1, 2, 2}, {0.25f, 0.75f, 0.5f, 0.5f})}, 13});
    add("softmax opset 13 axis 1",
        {"Softmax", {sx}, {{"axis", attr_i(1)}}, {f32({1, 2, 2}, {0.25f, 0.5f, 0.75f, 0.5f})}, 13});
    // Before opset 13: flattened to [1, 4] at axis 1: exp = 1, 3, 3, 3 over 10.
    add("softmax opset 11 default axis", {"Softmax", {sx}, {}, {f32({1, 2, 2}, {0.1f, 0.3f, 0.3f, 0.3f})}, 11});
    add("softmax opset 11 axis 2",
        {"Softmax", {sx}, {{"axis", attr_i(2)}}, {f32({1, 2, 2}, {0.25f, 0.75f, 0.5f, 0.5f})}, 11});
    add("logsoftmax opset 11", {"LogSoftmax",
                                {sx},
                                {},
                                {f32({1, 2, 2}, {std::log(0.1f), std::log(0.3f), std::log(0.3f), std::log(0.3f)})},
                                11});
    add("logsoftmax opset 13 large",
        {"LogSoftmax", {f32({2}, {1000, 1000})}, {}, {f32({2}, {-std::log(2.0f), -std::log(2.0f)})}, 13});
    // --- Gemm, MatMul -----------------------------------------------------------------------
    // A' = [[1, 3], [2, 4]], B' = [[1, 1], [0, 1]]: A'B' = [[1, 4], [2, 6]]; 2 A'B' + 0.5 [1, -1].
    add("gemm transposes alpha beta",
        {"Gemm",
         {f32({2, 2}, {1, 2, 3, 4}), f32({2, 2}, {1, 0, 1, 1}), f32({2}, {1, -1})},
         {{"transA", attr_i(1)}, {"transB", attr_i(1)}, {"alpha", attr_f(2)}, {"beta", attr_f(0.5f)}},
         {f32({2, 2}, {2.5f, 7.5f, 4.5f, 11.5f})}});
    add("gemm column C opset 11", {"Gemm",
                                   {f32({2, 1}, {1, 2}), f32({1, 2}, {3, 4}), f32({2, 1}, {10, 20})},
                                   {},
                                   {f32({2, 2}, {13, 14, 26, 28})},
                                   11});
    add("gemm without C", {"Gemm", {f32({1, 2}, {1, 2}), f32({2, 1}, {3, 4})}, {}, {f32({1, 1}, {11})}, 13});
    add("matmul batch broadcast", {"MatMul",
                                   {f32({2, 2}, {1, 2, 3, 4}), f32({2, 2, 2}, {1, 0, 0, 1, 0, 1, 1, 0})},
                                   {},
                                   {f32({2, 2, 2}, {1, 2, 3, 4, 2, 1, 4, 3})}});
    add("matmul 1d left", {"MatMul", {f32({2}, {1, 2}), f32({2, 2}, {1, 2, 3, 4})}, {}, {f32({2}, {7, 10})}});
    add("matmul 1d both", {"MatMul", {f32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})}, {}, {f32({}, {32})}});
    add("matmul shared B",
        {"MatMul", {f32({2, 1, 2}, {1, 2, 3, 4}), f32({2, 1}, {1, -1})}, {}, {f32({2, 1, 1}, {-1, -1})}});
    // --- ReduceMean, ReduceSum on [[1, 2, 3], [4, 5, 6]] -------------------------------------
    const Array rx = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    add("reducesum axes input no keepdims",
        {"ReduceSum", {rx, i64({1}, {-1})}, {{"keepdims", attr_i(0)}}, {f32({2}, {6, 15})}, 13});
    add("reducesum all", {"ReduceSum", {rx}, {}, {f32({1, 1}, {21})}, 13});
    add("reducesum noop", {"ReduceSum", {rx}, {{"noop_with_empty_axes", attr_i(1)}}, {rx}, 13});
    add("reducesum axes attribute opset 11",
        {"ReduceSum", {rx}, {{"axes", attr_ints({0})}}, {f32({1, 3}, {5, 7, 9})}, 11});
    add("reducemean axes", {"ReduceMean", {rx}, {{"axes", attr_ints({0})}}, {f32({1, 3}, {2.5f, 3.5f, 4.5f})}, 13});
    add("reducemean int64 middle axis", {"ReduceMean",
                                         {i64({1, 2, 2}, {1, 2, 4, 7})},
                                         {{"axes", attr_ints({1})}, {"keepdims", attr_i(0)}},
                                         {i64({1, 2}, {2, 4})},
                                         13});
    // --- errors -------------------------------------------------------------------------------
    add("conv float64", {"Conv",
                         {Array(DType::F64, {1, 1, 3}), Array(DType::F64, {1, 1, 1})},
                         {},
                         {},
                         13,
                         Error::Kind::Unsupported,
                         "Conv with F64 input"});
    add("conv channels", {"Conv",
                          {Array(DType::F32, {1, 2, 3}), Array(DType::F32, {1, 1, 1})},
                          {},
                          {},
                          13,
                          Error::Kind::BadInput,
                          "need 1 input channels"});
    add("conv bad auto_pad", {"Conv",
                              {Array(DType::F32, {1, 1, 3}), Array(DType::F32, {1, 1, 1})},
                              {{"auto_pad", attr_s("SAME")}},
                              {},
                              13,
                              Error::Kind::BadInput,
                              "auto_pad 'SAME'"});
    add("conv negative pads", {"Conv",
                               {Array(DType::F32, {1, 1, 3}), Array(DType::F32, {1, 1, 1})},
                               {{"pads", attr_ints({-1, 0})}},
                               {},
                               13,
                               Error::Kind::BadInput,
                               "pads [-1, 0]"});
    add("maxpool kernel too large", {"MaxPool",
                                     {Array(DType::F32, {1, 1, 2})},
                                     {{"kernel_shape", attr_ints({3})}},
                                     {},
                                     13,
                                     Error::Kind::BadInput,
                                     "larger than the padded input"});
    add("maxpool without kernel",
        {"MaxPool", {Array(DType::F32, {1, 1, 2})}, {}, {}, 13, Error::Kind::BadInput, "kernel_shape is missing"});
    add("batchnorm training", {"BatchNormalization",
                               {Array(), Array(), Array(), Array(), Array()},
                               {{"training_mode", attr_i(1)}},
                               {},
                               15,
                               Error::Kind::Unsupported,
                               "training mode"});
    add("gemm C shape", {"Gemm",
                         {Array(DType::F32, {2, 2}), Array(DType::F32, {2, 2}), Array(DType::F32, {3})},
                         {},
                         {},
                         13,
                         Error::Kind::BadInput,
                         "does not broadcast"});
    add("matmul inner", {"MatMul",
                         {Array(DType::F32, {2, 3}), Array(DType::F32, {2, 3})},
                         {},
                         {},
                         13,
                         Error::Kind::BadInput,
                         "inner dimension"});
    add("reducesum repeated axis",
        {"ReduceSum", {rx, i64({2}, {1, -1})}, {}, {}, 13, Error::Kind::BadInput, "names an axis twice"});
    add("softmax axis out of range", {"Softmax", {rx}, {{"axis", attr_i(2)}}, {}, 13, Error::Kind::BadInput, "axis 2"});
  }

  void forward() {
    QFETCH(int, index);
    const Case& c = cases()[static_cast<std::size_t>(index)];
    if (!c.message.empty()) {
      try {
        (void)run(c, 1);
        QFAIL("no error");
      } catch (const Error& e) {
        QCOMPARE(static_cast<int>(e.kind()), static_cast<int>(c.error));
        QVERIFY2(std::string(e.what()).find(c.message) != std::string::npos, e.what());
        QVERIFY2(std::string(e.what()).find("node 't' (" + c.op + ")") != std::string::npos, e.what());
      }
      return;
    }
    const std::vector<Array> got = run(c, c.out.size());
    QVERIFY(got.size() >= c.out.size());
    for (std::size_t k = 0; k < c.out.size(); ++k) {
      const Array& want = c.out[k];
      QCOMPARE(got[k].type(), want.type());
      QCOMPARE(got[k].shape(), want.shape());
      const Array g = got[k].cast(DType::F64), w = want.cast(DType::F64);
      for (std::int64_t i = 0; i < want.size(); ++i)
        QVERIFY2(close(g.data<double>()[i], w.data<double>()[i], 1e-5, 1e-6),
                 qPrintable(QString("output %1 element %2: %3, expected %4")
                                .arg(k)
                                .arg(i)
                                .arg(g.data<double>()[i])
                                .arg(w.data<double>()[i])));
    }
  }

  // A larger convolution, split over the pool (image x group tasks, and blocks of one image's
  // product), against a direct sum of the definition.
  void conv_matches_direct_sum_data() {
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("group");
    QTest::newRow("one image") << 1 << 1;
    QTest::newRow("four images") << 4 << 1;
    QTest::newRow("grouped") << 2 << 4;
    QTest::newRow("depthwise") << 1 << 16;
  }
  void conv_matches_direct_sum() {
    QFETCH(int, batch);
    QFETCH(int, group);
    const std::int64_t n = batch, c = 16, h = 23, w = 19, m = 32, k = 3, s = 2, pad = 1, cg = c / group;
    Array x(DType::F32, {n, c, h, w}), wt(DType::F32, {m, cg, k, k}), b(DType::F32, {m});
    for (std::int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1;
    for (std::int64_t i = 0; i < wt.size(); ++i) wt.data<float>()[i] = static_cast<float>((i * 13) % 29) / 14.0f - 1;
    for (std::int64_t i = 0; i < m; ++i) b.data<float>()[i] = static_cast<float>(i) / 8;
    const Case cs{
        "Conv",
        {x, wt, b},
        {{"group", attr_i(group)}, {"strides", attr_ints({s, s})}, {"pads", attr_ints({pad, pad, pad, pad})}}};
    const Array y = run(cs, 1)[0];
    const std::int64_t oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
    QCOMPARE(y.shape(), (Shape_{n, m, oh, ow}));
    const std::int64_t mg = m / group;
    for (std::int64_t in = 0; in < n; ++in)
      for (std::int64_t om = 0; om < m; ++om)
        for (std::int64_t oy = 0; oy < oh; ++oy)
          for (std::int64_t ox = 0; ox < ow; ++ox) {
            double want = b.data<float>()[om];
            const std::int64_t g = om / mg;
            for (std::int64_t ic = 0; ic < cg; ++ic)
              for (std::int64_t ky = 0; ky < k; ++ky)
                for (std::int64_t kx = 0; kx < k; ++kx) {
                  const std::int64_t iy = oy * s + ky - pad, ix = ox * s + kx - pad;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  want += static_cast<double>(x.data<float>()[((in * c + g * cg + ic) * h + iy) * w + ix]) *
                          wt.data<float>()[((om * cg + ic) * k + ky) * k + kx];
                }
            const double got = y.data<float>()[((in * m + om) * oh + oy) * ow + ox];
            if (!close(got, want, 1e-4, 1e-4))
              QFAIL(qPrintable(
                  QString("y[%1,%2,%3,%4] = %5, expected %6").arg(in).arg(om).arg(oy).arg(ox).arg(got).arg(want)));
          }
  }

  // The network torch exported, run end to end: every output within 1e-4 of torch's.
  void torch_reference() {
    const QJsonObject ref = test::read_json(test::data("engine/nn_stack.json"));
    const engine::Model model = engine::Model::load(test::data("engine/nn_stack.onnx"));
    const auto array_of = [](const QJsonObject& o) {
      std::vector<std::int64_t> shape;
      for (const auto& d : o["shape"].toArray()) shape.push_back(d.toInteger());
      std::vector<float> v;
      for (const auto& e : o["values"].toArray()) v.push_back(static_cast<float>(e.toDouble()));
      return Array::of<float>(shape, std::span<const float>(v));
    };
    const std::vector<Array> got = model.run({{"x", array_of(ref["x"].toObject())}});
    QCOMPARE(got.size(), std::size_t{3});
    for (std::size_t k = 0; k < got.size(); ++k) {
      const std::string name = model.outputs()[k].name;
      const Array want = array_of(ref[QString::fromStdString(name)].toObject());
      QCOMPARE(got[k].shape(), want.shape());
      double worst = 0;
      for (std::int64_t i = 0; i < want.size(); ++i) {
        const double g = got[k].data<float>()[i], w = want.data<float>()[i];
        worst = std::max(worst, std::fabs(g - w) / (1e-4 + std::fabs(w)));
      }
      QVERIFY2(worst <= 1e-3, qPrintable(QString("%1: worst relative difference %2").arg(name.c_str()).arg(worst)));
    }
  }
};

QTEST_GUILESS_MAIN(TestEngineNnOps)
#include "test_engine_nn_ops.moc"
