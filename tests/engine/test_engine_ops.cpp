// The element-wise and shape operators on small arrays whose results were worked out by hand
// (floats from the closed forms, e.g. erf(1) = 0.8427008): broadcasting, negative axes, Slice
// clamping and negative steps, Reshape's 0 and -1, Gather's negative indices, Cast rounding.
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "engine/broadcast.h"
#include "engine/buffer_cache.h"
#include "engine/op_registry.h"
#include "engine_node.h"
#include "paramscope/error.h"

using namespace paramscope;
using namespace paramscope::engine;

namespace {

using In = std::optional<Array>;

Array f32(Dims s, std::initializer_list<float> v) {
  return Array::of<float>(std::move(s), v);
}
Array i64(Dims s, std::initializer_list<std::int64_t> v) {
  return Array::of<std::int64_t>(std::move(s), v);
}
Array i32(Dims s, std::initializer_list<std::int32_t> v) {
  return Array::of<std::int32_t>(std::move(s), v);
}
// F16 values by their bit patterns.
Array f16_bits(Dims s, std::initializer_list<std::uint16_t> v) {
  Array a(DType::F16, std::move(s));
  std::copy(v.begin(), v.end(), a.data<std::uint16_t>());
  return a;
}
Array b8(Dims s, std::initializer_list<bool> v) {
  return Array::of<bool>(std::move(s), v);
}
Array arange(Dims s) {
  Array a(DType::F32, s);
  for (std::int64_t i = 0; i < a.size(); ++i) a.data<float>()[i] = static_cast<float>(i);
  return a;
}

using test::attr_f;
using test::attr_i;
using test::attr_ints;
using test::attr_s;
using test::attr_t;

struct Case {
  std::string op;
  std::vector<In> in;
  std::map<std::string, Attribute> attrs = {};
  std::vector<Array> out = {};
  int opset = 13;
  std::string error = {};  // expected message fragment when the node must fail
};

std::vector<Array> run(const Case& c, std::size_t outputs) {
  return test::run_node(c.op, c.in, c.attrs, c.opset, outputs);
}

// Values as doubles for comparison (every type here converts exactly; F16 as its bit patterns).
std::vector<double> as_doubles(const Array& a) {
  if (a.type() == DType::F16) {
    const auto bits = a.values<std::uint16_t>();
    return {bits.begin(), bits.end()};
  }
  const Array d = a.cast(DType::F64);
  const auto v = d.values<double>();
  return {v.begin(), v.end()};
}

std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

void add(const char* name, Case c) {
  QTest::newRow(name) << static_cast<int>(cases().size());
  cases().push_back(std::move(c));
}

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

}  // namespace

class TestEngineOps : public QObject {
  Q_OBJECT
 private slots:
  void broadcast_shapes_rules() {
    QCOMPARE(*broadcast_shapes({2, 3}, {3}), (Dims{2, 3}));
    QCOMPARE(*broadcast_shapes({2, 1}, {1, 3}), (Dims{2, 3}));
    QCOMPARE(*broadcast_shapes({}, {4, 1}), (Dims{4, 1}));
    QCOMPARE(*broadcast_shapes({0, 1}, {1, 5}), (Dims{0, 5}));
    QVERIFY(!broadcast_shapes({2, 3}, {2}));
    QVERIFY(!broadcast_shapes({0}, {2}));
    const Dims three[] = {{2, 1, 1}, {3, 1}, {4}};
    QCOMPARE(*broadcast_shapes(three), (Dims{2, 3, 4}));
    QCOMPARE(broadcast_strides({3, 1}, {2, 3, 4}), (Dims{0, 1, 0}));
    // Same-shape operands merge into one run; a broadcast operand keeps its dimensions.
    const Dims same[] = {{2, 3, 4}};
    QCOMPARE(broadcast_walker({2, 3, 4}, same).run(), std::int64_t{24});
    const Dims row[] = {{4}};
    const StridedWalker w = broadcast_walker({2, 3, 4}, row);
    QCOMPARE(w.run(), std::int64_t{4});
    int runs = 0;
    w.for_each([&](const std::int64_t* off) {
      QCOMPARE(off[0], std::int64_t{runs} * 4);
      QCOMPARE(off[1], std::int64_t{0});
      ++runs;
    });
    QCOMPARE(runs, 6);
  }

  void forward_data() {
    QTest::addColumn<int>("index");
    cases().clear();
    // ---------------------------------------------------------------- element-wise
    add("add broadcast row", {"Add",
                              {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {10, 20, 30})},
                              {},
                              {f32({2, 3}, {11, 22, 33, 14, 25, 36})}});
    add("add broadcast both",
        {"Add", {f32({2, 1}, {1, 2}), f32({1, 3}, {10, 20, 30})}, {}, {f32({2, 3}, {11, 21, 31, 12, 22, 32})}});
    add("add empty", {"Add", {f32({0, 3}, {}), f32({1, 3}, {1, 2, 3})}, {}, {f32({0, 3}, {})}});
    add("sub scalar", {"Sub", {f32({3}, {1, 2, 3}), f32({}, {0.5f})}, {}, {f32({3}, {0.5f, 1.5f, 2.5f})}});
    add("sub scalar first", {"Sub", {f32({}, {1}), f32({2}, {3, -1})}, {}, {f32({2}, {-2, 2})}});
    add("mul int64", {"Mul", {i64({2}, {3, -4}), i64({2}, {5, 6})}, {}, {i64({2}, {15, -24})}});
    add("mul int64 wraps", {"Mul", {i64({1}, {kMin}), i64({1}, {-1})}, {}, {i64({1}, {kMin})}});
    add("div int64 truncates",
        {"Div", {i64({4}, {7, -7, 7, -7}), i64({4}, {2, 2, -2, -2})}, {}, {i64({4}, {3, -3, -3, 3})}});
    add("div int32 broadcast", {"Div", {i32({2, 2}, {9, 10, -9, 11}), i32({}, {4})}, {}, {i32({2, 2}, {2, 2, -2, 2})}});
    add("div float", {"Div", {f32({2}, {1, -3}), f32({2}, {4, 2})}, {}, {f32({2}, {0.25f, -1.5f})}});
    add("pow int exponent", {"Pow", {f32({3}, {2, 3, -2}), i64({}, {3})}, {}, {f32({3}, {8, 27, -8})}});
    add("pow float", {"Pow", {f32({2}, {4, 9}), f32({}, {0.5f})}, {}, {f32({2}, {2, 3})}});
    add("pow int64 base", {"Pow", {i64({2}, {3, -2}), i64({2}, {2, 3})}, {}, {i64({2}, {9, -8})}});
    add("sqrt", {"Sqrt", {f32({3}, {0, 4, 2.25f})}, {}, {f32({3}, {0, 2, 1.5f})}});
    add("neg int64", {"Neg", {i64({2}, {5, -3})}, {}, {i64({2}, {-5, 3})}});
    add("abs", {"Abs", {f32({3}, {-1.5f, 0, 2})}, {}, {f32({3}, {1.5f, 0, 2})}});
    add("exp", {"Exp", {f32({2}, {0, 1})}, {}, {f32({2}, {1, 2.7182817f})}});
    add("log", {"Log", {f32({2}, {1, 7.389056f})}, {}, {f32({2}, {0, 2})}});
    add("relu", {"Relu", {f32({4}, {-1, 0, 2, -0.5f})}, {}, {f32({4}, {0, 0, 2, 0})}});
    add("leaky relu default alpha", {"LeakyRelu", {f32({2}, {-2, 3})}, {}, {f32({2}, {-0.02f, 3})}});
    add("leaky relu alpha", {"LeakyRelu", {f32({2}, {-2, 3})}, {{"alpha", attr_f(0.5f)}}, {f32({2}, {-1, 3})}});
    add("sigmoid", {"Sigmoid", {f32({3}, {0, 2, -2})}, {}, {f32({3}, {0.5f, 0.88079708f, 0.11920292f})}});
    add("sigmoid saturates", {"Sigmoid", {f32({2}, {-200, 200})}, {}, {f32({2}, {0, 1})}});
    add("tanh", {"Tanh", {f32({2}, {0, 0.5f})}, {}, {f32({2}, {0, 0.46211716f})}});
    add("hard sigmoid", {"HardSigmoid", {f32({4}, {-3, 0, 1, 3})}, {}, {f32({4}, {0, 0.5f, 0.7f, 1})}});
    add("hard sigmoid attrs", {"HardSigmoid",
                               {f32({2}, {1, -1})},
                               {{"alpha", attr_f(0.25f)}, {"beta", attr_f(0.25f)}},
                               {f32({2}, {0.5f, 0})}});
    add("hard swish", {"HardSwish", {f32({4}, {-4, -1, 1, 4})}, {}, {f32({4}, {0, -1.f / 3, 2.f / 3, 4})}});
    add("clip inputs",
        {"Clip", {f32({4}, {-2, 0.5f, 3, 1}), f32({}, {0}), f32({}, {1})}, {}, {f32({4}, {0, 0.5f, 1, 1})}});
    add("clip only max", {"Clip", {f32({3}, {-2, 0, 5}), std::nullopt, f32({}, {1})}, {}, {f32({3}, {-2, 0, 1})}});
    add("clip min above max", {"Clip", {f32({2}, {-2, 5}), f32({}, {2}), f32({}, {1})}, {}, {f32({2}, {1, 1})}});
    add("clip int64", {"Clip", {i64({3}, {-5, 5, 50}), i64({}, {0}), i64({}, {10})}, {}, {i64({3}, {0, 5, 10})}});
    Case clip9{"Clip", {f32({3}, {-2, 0, 5})}, {{"min", attr_f(-1)}, {"max", attr_f(1)}}, {f32({3}, {-1, 0, 1})}};
    clip9.opset = 9;
    add("clip opset 9 attributes", clip9);
    add("erf", {"Erf", {f32({3}, {0, 1, -0.5f})}, {}, {f32({3}, {0, 0.84270079f, -0.52049988f})}});
    add("gelu", {"Gelu", {f32({3}, {0, 1, -1})}, {}, {f32({3}, {0, 0.84134475f, -0.15865525f})}});
    add("gelu tanh",
        {"Gelu", {f32({2}, {1, -1})}, {{"approximate", attr_s("tanh")}}, {f32({2}, {0.84119199f, -0.15880801f})}});
    add("equal broadcast",
        {"Equal", {f32({2, 2}, {1, 2, 3, 4}), f32({2}, {1, 4})}, {}, {b8({2, 2}, {true, false, false, true})}});
    add("equal int64", {"Equal", {i64({3}, {1, 2, 3}), i64({3}, {1, 0, 3})}, {}, {b8({3}, {true, false, true})}});
    add("where broadcast", {"Where",
                            {b8({2, 1}, {true, false}), f32({3}, {1, 2, 3}), f32({}, {9})},
                            {},
                            {f32({2, 3}, {1, 2, 3, 9, 9, 9})}});
    add("where int64", {"Where",
                        {b8({3}, {true, false, true}), i64({3}, {1, 2, 3}), i64({3}, {-1, -2, -3})},
                        {},
                        {i64({3}, {1, -2, 3})}});
    // ---------------------------------------------------------------- shape
    add("reshape 0 and -1", {"Reshape", {arange({2, 3, 4}), i64({2}, {0, -1})}, {}, {arange({2, 12})}});
    add("reshape -1 first", {"Reshape", {arange({2, 3, 4}), i64({3}, {-1, 3, 2})}, {}, {arange({4, 3, 2})}});
    Case allowzero{"Reshape", {f32({0, 3}, {}), i64({2}, {3, 0})}, {{"allowzero", attr_i(1)}}, {f32({3, 0}, {})}};
    allowzero.opset = 14;
    add("reshape allowzero", allowzero);
    add("flatten axis 2", {"Flatten", {arange({2, 3, 4})}, {{"axis", attr_i(2)}}, {arange({6, 4})}});
    add("flatten axis 0", {"Flatten", {arange({2, 3})}, {{"axis", attr_i(0)}}, {arange({1, 6})}});
    add("flatten axis -1", {"Flatten", {arange({2, 3, 4})}, {{"axis", attr_i(-1)}}, {arange({6, 4})}});
    add("transpose default", {"Transpose", {f32({2, 3}, {1, 2, 3, 4, 5, 6})}, {}, {f32({3, 2}, {1, 4, 2, 5, 3, 6})}});
    add("transpose perm", {"Transpose",
                           {arange({2, 3, 2})},
                           {{"perm", attr_ints({1, 0, 2})}},
                           {f32({3, 2, 2}, {0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11})}});
    add("concat negative axis", {"Concat",
                                 {f32({2, 1}, {1, 2}), f32({2, 2}, {3, 4, 5, 6})},
                                 {{"axis", attr_i(-1)}},
                                 {f32({2, 3}, {1, 3, 4, 2, 5, 6})}});
    add("concat int64 shapes",
        {"Concat", {i64({1}, {2}), i64({0}, {}), i64({2}, {3, -1})}, {{"axis", attr_i(0)}}, {i64({3}, {2, 3, -1})}});
    add("split equal", {"Split", {arange({6})}, {}, {f32({2}, {0, 1}), f32({2}, {2, 3}), f32({2}, {4, 5})}});
    add("split input sizes", {"Split",
                              {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({2}, {1, 2})},
                              {{"axis", attr_i(-1)}},
                              {f32({2, 1}, {1, 4}), f32({2, 2}, {2, 3, 5, 6})}});
    Case split11{"Split", {f32({3}, {7, 8, 9})}, {{"split", attr_ints({2, 1})}}, {f32({2}, {7, 8}), f32({1}, {9})}};
    split11.opset = 11;
    add("split attribute", split11);
    add("slice steps", {"Slice",
                        {arange({10}), i64({1}, {1}), i64({1}, {10}), i64({1}, {0}), i64({1}, {3})},
                        {},
                        {f32({3}, {1, 4, 7})}});
    add("slice negative step", {"Slice",
                                {arange({5}), i64({1}, {4}), i64({1}, {kMin}), i64({1}, {0}), i64({1}, {-2})},
                                {},
                                {f32({3}, {4, 2, 0})}});
    add("slice negative step from end", {"Slice",
                                         {arange({5}), i64({1}, {-1}), i64({1}, {-4}), std::nullopt, i64({1}, {-1})},
                                         {},
                                         {f32({3}, {4, 3, 2})}});
    add("slice clamps", {"Slice", {arange({5}), i64({1}, {-100}), i64({1}, {100})}, {}, {arange({5})}});
    add("slice start past end clamps", {"Slice",
                                        {arange({5}), i64({1}, {7}), i64({1}, {kMin}), std::nullopt, i64({1}, {-1})},
                                        {},
                                        {f32({5}, {4, 3, 2, 1, 0})}});
    add("slice empty",
        {"Slice", {arange({5}), i64({1}, {3}), i64({1}, {-1}), std::nullopt, i64({1}, {-1})}, {}, {f32({0}, {})}});
    add("slice negative axis", {"Slice",
                                {arange({3, 4}), i64({1}, {1}), i64({1}, {-1}), i64({1}, {-1})},
                                {},
                                {f32({3, 2}, {1, 2, 5, 6, 9, 10})}});
    add("slice int32 parameters", {"Slice", {arange({4}), i32({1}, {1}), i32({1}, {3})}, {}, {f32({2}, {1, 2})}});
    Case slice9{"Slice",
                {f32({2, 3}, {1, 2, 3, 4, 5, 6})},
                {{"starts", attr_ints({0})}, {"ends", attr_ints({2})}, {"axes", attr_ints({1})}},
                {f32({2, 2}, {1, 2, 4, 5})}};
    slice9.opset = 9;
    add("slice opset 9 attributes", slice9);
    add("squeeze axes input", {"Squeeze", {arange({1, 3, 1}), i64({1}, {-1})}, {}, {arange({1, 3})}});
    add("squeeze all", {"Squeeze", {arange({1, 3, 1})}, {}, {arange({3})}});
    Case squeeze11{"Squeeze", {arange({1, 3, 1})}, {{"axes", attr_ints({0})}}, {arange({3, 1})}};
    squeeze11.opset = 11;
    add("squeeze attribute", squeeze11);
    add("unsqueeze input", {"Unsqueeze", {arange({3}), i64({2}, {0, -1})}, {}, {arange({1, 3, 1})}});
    Case unsqueeze11{"Unsqueeze", {f32({}, {5})}, {{"axes", attr_ints({0})}}, {f32({1}, {5})}};
    unsqueeze11.opset = 11;
    add("unsqueeze scalar attribute", unsqueeze11);
    add("gather negative indices",
        {"Gather", {f32({3, 2}, {1, 2, 3, 4, 5, 6}), i64({2}, {-1, 0})}, {}, {f32({2, 2}, {5, 6, 1, 2})}});
    add("gather scalar index axis 1",
        {"Gather", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), i64({}, {2})}, {{"axis", attr_i(1)}}, {f32({2}, {3, 6})}});
    add("gather int32 2-D indices",
        {"Gather", {i64({4}, {10, 20, 30, 40}), i32({2, 2}, {0, 3, -2, 1})}, {}, {i64({2, 2}, {10, 40, 30, 20})}});
    add("gather shape element", {"Gather", {i64({3}, {7, 3, 5}), i64({}, {0})}, {}, {i64({}, {7})}});
    add("expand", {"Expand",
                   {f32({3, 1}, {1, 2, 3}), i64({3}, {2, 1, 2})},
                   {},
                   {f32({2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3})}});
    add("expand to smaller shape", {"Expand", {f32({2, 1}, {1, 2}), i64({1}, {1})}, {}, {f32({2, 1}, {1, 2})}});
    add("shape", {"Shape", {arange({2, 3, 4})}, {}, {i64({3}, {2, 3, 4})}});
    Case shape15{"Shape", {arange({2, 3, 4})}, {{"start", attr_i(1)}, {"end", attr_i(-1)}}, {i64({1}, {3})}};
    shape15.opset = 15;
    add("shape start end", shape15);
    add("cast to int32 truncates",
        {"Cast", {f32({4}, {1.7f, -1.7f, 2.5f, -0.5f})}, {{"to", attr_i(6)}}, {i32({4}, {1, -1, 2, 0})}});
    add("cast to float16 rounds to nearest even", {"Cast",
                                                   {f32({4}, {1, 0.1f, 65520, -2.5f})},
                                                   {{"to", attr_i(10)}},
                                                   {f16_bits({4}, {0x3C00, 0x2E66, 0x7C00, 0xC100})}});
    add("cast int64 to bool", {"Cast", {i64({3}, {0, 5, -1})}, {{"to", attr_i(9)}}, {b8({3}, {false, true, true})}});
    add("cast bool to float", {"Cast", {b8({2}, {true, false})}, {{"to", attr_i(1)}}, {f32({2}, {1, 0})}});
    add("cast int64 to int32 wraps",
        {"Cast", {i64({1}, {(std::int64_t{1} << 32) + 5})}, {{"to", attr_i(6)}}, {i32({1}, {5})}});
    add("constant ints", {"Constant", {}, {{"value_ints", attr_ints({1, 2})}}, {i64({2}, {1, 2})}});
    add("constant tensor", {"Constant", {}, {{"value", attr_t(f32({2}, {0.5f, 1}))}}, {f32({2}, {0.5f, 1})}});
    add("constant of shape",
        {"ConstantOfShape", {i64({2}, {2, 1})}, {{"value", attr_t(i64({1}, {7}))}}, {i64({2, 1}, {7, 7})}});
    add("constant of shape default", {"ConstantOfShape", {i64({1}, {3})}, {}, {f32({3}, {0, 0, 0})}});
    add("constant of empty shape",
        {"ConstantOfShape", {i64({0}, {})}, {{"value", attr_t(f32({1}, {2}))}}, {f32({}, {2})}});
    add("identity", {"Identity", {i64({2}, {4, 5})}, {}, {i64({2}, {4, 5})}});
    add("dropout with mask", {"Dropout", {f32({2}, {1, 2})}, {}, {f32({2}, {1, 2}), b8({2}, {true, true})}});
  }
  void forward() {
    QFETCH(int, index);
    const Case& c = cases()[static_cast<std::size_t>(index)];
    std::vector<Array> got;
    try {
      got = run(c, c.out.size());
    } catch (const Error& e) {
      QFAIL(e.what());
    }
    QCOMPARE(got.size(), c.out.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      const Array& g = got[k];
      const Array& want = c.out[k];
      QCOMPARE(dtype_name(g.type()), dtype_name(want.type()));
      QCOMPARE(g.shape(), want.shape());
      const auto a = as_doubles(g), b = as_doubles(want);
      for (std::size_t i = 0; i < a.size(); ++i) {
        const double tol = g.type() == DType::F32 ? 1e-6 * std::max(1.0, std::abs(b[i])) : 0;
        if (!(std::abs(a[i] - b[i]) <= tol))
          QFAIL(qPrintable(QString("output %1 element %2: got %3, expected %4")
                               .arg(k)
                               .arg(i)
                               .arg(a[i], 0, 'g', 9)
                               .arg(b[i], 0, 'g', 9)));
      }
    }
  }

  void failures_data() {
    QTest::addColumn<int>("index");
    cases().clear();
    auto bad = [](const char* name, Case c, const char* msg) {
      c.error = msg;
      add(name, std::move(c));
    };
    bad("shapes do not broadcast", {"Add", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 2})}},
        "input shapes [2, 3], [2] do not broadcast");
    bad("types differ", {"Add", {f32({1}, {1}), i64({1}, {1})}}, "inputs have different types, F32 and I64");
    bad("integer division by zero", {"Div", {i64({2}, {1, 2}), i64({2}, {1, 0})}}, "integer division by zero");
    bad("sqrt of integers", {"Sqrt", {i64({1}, {4})}}, "type I64 is not supported");
    bad("where needs bool", {"Where", {f32({1}, {1}), f32({1}, {1}), f32({1}, {1})}}, "condition must be BOOL");
    bad("reshape two -1", {"Reshape", {arange({4}), i64({2}, {-1, -1})}}, "more than one -1");
    bad("reshape size", {"Reshape", {arange({4}), i64({2}, {3, 2})}}, "cannot reshape [4] (4 values) to [3, 2]");
    bad("reshape copies a missing dim", {"Reshape", {arange({4}), i64({2}, {0, 0})}},
        "copies dimension 1 of an input of rank 1");
    bad("gather out of range", {"Gather", {arange({3}), i64({2}, {0, 3})}}, "index 3 is outside [-3, 3) on axis 0");
    bad("gather axis out of range", {"Gather", {arange({3}), i64({1}, {0})}, {{"axis", attr_i(1)}}},
        "axis 1 is outside [-1, 1)");
    bad("slice step 0", {"Slice", {arange({3}), i64({1}, {0}), i64({1}, {2}), i64({1}, {0}), i64({1}, {0})}},
        "step 0 on axis 0");
    bad("slice repeated axis", {"Slice", {arange({3, 3}), i64({2}, {0, 0}), i64({2}, {1, 1}), i64({2}, {0, -2})}},
        "given twice");
    bad("slice lengths differ", {"Slice", {arange({3}), i64({2}, {0, 0}), i64({1}, {1})}}, "different lengths");
    bad("squeeze a dimension of 3", {"Squeeze", {arange({1, 3}), i64({1}, {1})}}, "it is not 1");
    bad("concat shapes", {"Concat", {arange({2, 2}), arange({3, 3})}, {{"axis", attr_i(0)}}},
        "cannot concatenate [2, 2] and [3, 3] along axis 0");
    bad("split unevenly", {"Split", {arange({5})}}, "cannot split dimension 5 into 3 equal parts");
    bad("transpose repeated axis", {"Transpose", {arange({2, 2})}, {{"perm", attr_ints({0, 0})}}},
        "axis 0 is given twice");
    bad("expand conflict", {"Expand", {arange({3}), i64({1}, {2})}}, "cannot expand [3] to [2]");
    bad("cast to string", {"Cast", {arange({1})}, {{"to", attr_i(8)}}}, "casting to STRING is not supported");
    bad("attribute of another kind", {"LeakyRelu", {arange({1})}, {{"alpha", attr_i(1)}}},
        "attribute 'alpha' is an int, expected a float");
    bad("gelu approximate", {"Gelu", {arange({1})}, {{"approximate", attr_s("erf")}}}, "must be \"none\" or \"tanh\"");
    bad("shape input of floats", {"Reshape", {arange({1}), f32({1}, {1})}}, "shape must be INT64 or INT32, it is F32");
  }
  void failures() {
    QFETCH(int, index);
    const Case& c = cases()[static_cast<std::size_t>(index)];
    const std::size_t outputs = c.op == "Split" ? 3 : 1;
    try {
      run(c, outputs);
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(e.kind() == Error::Kind::BadInput || e.kind() == Error::Kind::Unsupported, e.what());
      QVERIFY2(QString(e.what()).startsWith("node 't' (" + QString::fromStdString(c.op) + "): "), e.what());
      QVERIFY2(QString(e.what()).contains(QString::fromStdString(c.error)), e.what());
    }
  }

  void registry_lists_every_operator_of_this_step() {
    for (const char* op : {"Add",         "Sub",
                           "Mul",         "Div",
                           "Pow",         "Sqrt",
                           "Neg",         "Abs",
                           "Exp",         "Log",
                           "Relu",        "LeakyRelu",
                           "Sigmoid",     "Tanh",
                           "HardSigmoid", "HardSwish",
                           "Clip",        "Erf",
                           "Gelu",        "Equal",
                           "Where",       "Reshape",
                           "Transpose",   "Concat",
                           "Split",       "Slice",
                           "Squeeze",     "Unsqueeze",
                           "Gather",      "Expand",
                           "Shape",       "Cast",
                           "Constant",    "ConstantOfShape",
                           "Identity",    "Dropout",
                           "Flatten"})
      QVERIFY2(OpRegistry::builtin().find(op), op);
  }

  // Freed large arrays are reused: a zero-filled array made from a reused buffer is zero again,
  // an array for overwrite gets the old buffer (unless AddressSanitizer is on: nothing is kept),
  // and small arrays do not enter the cache.
  void reused_buffers_are_zeroed_again() {
    const std::vector<std::int64_t> shape{256, 1024};  // 1 MiB
    const std::byte* first = nullptr;
    {
      Array a = Array::for_overwrite(DType::F32, shape);
      std::fill_n(a.data<float>(), a.size(), 7.0f);
      first = a.bytes();
    }
    const std::size_t held = cached_buffer_bytes();
#if defined(__SANITIZE_ADDRESS__)
    QCOMPARE(held, std::size_t{0});
#else
    QVERIFY2(held >= std::size_t{1} << 20, std::to_string(held).c_str());
#endif
    {
      const Array zeroed(DType::F32, shape);
      const float* v = zeroed.data<float>();
      QVERIFY(std::all_of(v, v + zeroed.size(), [](float x) { return x == 0.0f; }));
#if !defined(__SANITIZE_ADDRESS__)
      QCOMPARE(zeroed.bytes(), first);  // the same buffer, zeroed again
#endif
    }
    {
      const Array small = Array::for_overwrite(DType::F32, {16});
      (void)small;
    }
    QCOMPARE(cached_buffer_bytes(), held);
  }
};

QTEST_GUILESS_MAIN(TestEngineOps)
#include "test_engine_ops.moc"
