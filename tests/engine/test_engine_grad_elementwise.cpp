// Backward rules of the element-wise and shape operators: every operator and every attribute
// path that changes the math against central finite differences of its forward kernel
// (test::grad_check), inputs kept away from kinks; then exact values at the kinks, which follow
// PyTorch 1.13's autograd (values printed by torch.autograd on the same inputs), the inputs that
// get no gradient, outputs without one, and F64 against F32.
#include <QTest>

#include <cmath>
#include <limits>
#include <optional>

#include "engine/broadcast.h"
#include "engine/kernels/vector_math.h"
#include "engine/op_registry.h"
#include "grad_check.h"
#include "paramscope/error.h"

using namespace paramscope;
using namespace paramscope::engine;

namespace {

using In = std::optional<Array>;
using test::attr_f;
using test::attr_i;
using test::attr_ints;
using test::attr_s;
using test::GradCheck;

Array f32(Dims s, std::initializer_list<float> v) {
  return Array::of<float>(std::move(s), v);
}
Array i64(Dims s, std::initializer_list<std::int64_t> v) {
  return Array::of<std::int64_t>(std::move(s), v);
}
Array rnd(Dims s, std::uint32_t seed, float lo = -1, float hi = 1) {
  return test::pseudo_random(std::move(s), seed, lo, hi);
}
// Random values moved at least `margin` away from each kink, so that finite differences do not
// straddle one.
Array away(Array a, std::initializer_list<float> kinks, float margin = 0.05f) {
  float* d = a.data<float>();
  for (std::int64_t i = 0; i < a.size(); ++i)
    for (const float k : kinks)
      if (std::fabs(d[i] - k) < margin) d[i] = k + (d[i] < k ? -2 : 2) * margin;
  return a;
}

std::vector<GradCheck>& checks() {
  static std::vector<GradCheck> all;
  return all;
}
void add(const char* name, GradCheck c) {
  QTest::newRow(name) << static_cast<int>(checks().size());
  checks().push_back(std::move(c));
}
GradCheck with_opset(GradCheck c, int opset) {
  c.opset = opset;
  return c;
}

// Runs op's backward rule with the given incoming gradients (nullopt: none flows) and wants.
Grads backward(const std::string& op, const std::vector<In>& in, std::vector<In> grad_out, std::vector<bool> wants = {},
               const std::map<std::string, Attribute>& attrs = {}, int opset = 13) {
  Node n;
  n.name = "t";
  n.op_type = op;
  for (std::size_t i = 0; i < in.size(); ++i) n.inputs.push_back(in[i] ? "i" + std::to_string(i) : "");
  for (std::size_t i = 0; i < grad_out.size(); ++i) n.outputs.push_back("o" + std::to_string(i));
  n.attributes = attrs;
  n.op = OpRegistry::builtin().find(op);
  const std::vector<Array> out = test::run_node(op, in, attrs, opset, grad_out.size());
  std::vector<const Array*> args(input_slots(n), nullptr), gout;
  for (std::size_t i = 0; i < in.size(); ++i) args[i] = in[i] ? &*in[i] : nullptr;
  for (const auto& g : grad_out) gout.push_back(g ? &*g : nullptr);
  if (wants.empty())
    for (const auto& x : in) wants.push_back(x.has_value());
  wants.resize(args.size(), false);
  const auto w = std::make_unique<bool[]>(args.size());
  for (std::size_t i = 0; i < args.size(); ++i) w[i] = wants[i];
  const NodeContext ctx(n, opset, ThreadPool::global());
  return n.op->backward(ctx, BackwardArgs{args, out, gout, std::span<const bool>(w.get(), args.size())});
}

// Ones in the shape of op's output k, as the incoming gradient.
Array ones_like(const Array& a) {
  Array o(a.type(), a.shape());
  if (a.type() == DType::F64)
    std::fill(o.data<double>(), o.data<double>() + o.size(), 1.0);
  else
    std::fill(o.data<float>(), o.data<float>() + o.size(), 1.0f);
  return o;
}

std::vector<double> as_doubles(const Array& a) {
  const Array d = a.cast(DType::F64);
  const auto v = d.values<double>();
  return {v.begin(), v.end()};
}

// Exact comparison that also accepts equal infinities; tolerance relative to float precision.
QString mismatch(const Array& got, const std::vector<double>& want) {
  const auto g = as_doubles(got);
  if (g.size() != want.size()) return QString("%1 values, expected %2").arg(g.size()).arg(want.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool same = g[i] == want[i] || (std::isnan(g[i]) && std::isnan(want[i])) ||
                      std::fabs(g[i] - want[i]) <= 1e-6 * std::max(1.0, std::fabs(want[i]));
    if (!same) return QString("element %1: got %2, expected %3").arg(i).arg(g[i], 0, 'g', 9).arg(want[i], 0, 'g', 9);
  }
  return {};
}

QString type_of(DType t) {
  return QString::fromStdString(std::string(dtype_name(t)));
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

class TestEngineGradElementwise : public QObject {
  Q_OBJECT
 private slots:
  void finite_differences_data() {
    QTest::addColumn<int>("index");
    checks().clear();
    // ---------------------------------------------------------------- arithmetic
    add("add same shape", {"Add", {rnd({2, 3}, 1), rnd({2, 3}, 2)}, {}, 13, 1, {0, 1}});
    add("add broadcast row", {"Add", {rnd({2, 3}, 1), rnd({3}, 2)}, {}, 13, 1, {0, 1}});
    add("add broadcast both", {"Add", {rnd({2, 1}, 1), rnd({1, 3}, 2)}, {}, 13, 1, {0, 1}});
    add("add scalar", {"Add", {rnd({}, 1), rnd({2, 3}, 2)}, {}, 13, 1, {0, 1}});
    add("add rank 3 and 2", {"Add", {rnd({4, 1, 3}, 1), rnd({2, 1}, 2)}, {}, 13, 1, {0, 1}});
    add("add empty", {"Add", {rnd({0, 3}, 1), rnd({1, 3}, 2)}, {}, 13, 1, {0, 1}});
    add("sub broadcast", {"Sub", {rnd({2, 3}, 3), rnd({2, 1}, 4)}, {}, 13, 1, {0, 1}});
    add("sub scalar first", {"Sub", {rnd({}, 3), rnd({3}, 4)}, {}, 13, 1, {0, 1}});
    add("mul same shape", {"Mul", {rnd({5}, 5), rnd({5}, 6)}, {}, 13, 1, {0, 1}});
    add("mul broadcast", {"Mul", {rnd({2, 3, 4}, 5), rnd({3, 1}, 6)}, {}, 13, 1, {0, 1}});
    add("div same shape", {"Div", {rnd({6}, 7), rnd({6}, 8, 0.5f, 2)}, {}, 13, 1, {0, 1}});
    add("div broadcast", {"Div", {rnd({3, 1}, 7), rnd({1, 4}, 8, -2, -0.5f)}, {}, 13, 1, {0, 1}});
    add("pow float exponent", {"Pow", {rnd({2, 3}, 9, 0.5f, 2), rnd({2, 3}, 10, -2, 2)}, {}, 13, 1, {0, 1}});
    add("pow scalar exponent", {"Pow", {rnd({2, 3}, 9, 0.5f, 2), f32({}, {1.5f})}, {}, 13, 1, {0, 1}});
    add("pow broadcast base", {"Pow", {rnd({3, 1}, 9, 0.5f, 2), rnd({4}, 10, -1, 3)}, {}, 13, 1, {0, 1}});
    add("pow integer exponent", {"Pow", {rnd({5}, 11, -2, 2), i64({}, {3})}, {}, 13, 1, {0}});
    add("pow negative base", {"Pow", {rnd({4}, 12, -2, -0.5f), f32({4}, {2, 3, -1, -2})}, {}, 13, 1, {0}});
    // ---------------------------------------------------------------- unary
    add("sqrt", {"Sqrt", {rnd({7}, 13, 0.2f, 4)}});
    add("exp", {"Exp", {rnd({7}, 14, -3, 3)}});
    add("log", {"Log", {rnd({7}, 15, 0.2f, 5)}});
    add("tanh", {"Tanh", {rnd({7}, 16, -3, 3)}});
    add("erf", {"Erf", {rnd({7}, 17, -2, 2)}});
    add("sigmoid", {"Sigmoid", {rnd({7}, 18, -6, 6)}});
    add("neg", {"Neg", {rnd({2, 2}, 19)}});
    add("abs", {"Abs", {away(rnd({9}, 20, -2, 2), {0})}});
    add("relu", {"Relu", {away(rnd({9}, 21, -2, 2), {0})}});
    add("leaky relu default alpha", {"LeakyRelu", {away(rnd({9}, 22, -2, 2), {0})}});
    add("leaky relu alpha", {"LeakyRelu", {away(rnd({9}, 22, -2, 2), {0})}, {{"alpha", attr_f(0.3f)}}});
    add("hard sigmoid default", {"HardSigmoid", {away(rnd({12}, 23, -4, 4), {-2.5f, 2.5f})}});
    add("hard sigmoid attrs",
        {"HardSigmoid", {away(rnd({12}, 24, -4, 4), {-3, 1})}, {{"alpha", attr_f(0.25f)}, {"beta", attr_f(0.75f)}}});
    add("hard swish", {"HardSwish", {away(rnd({12}, 25, -5, 5), {-3, 3})}});
    add("gelu", {"Gelu", {rnd({9}, 26, -4, 4)}});
    add("gelu tanh", {"Gelu", {rnd({9}, 27, -4, 4)}, {{"approximate", attr_s("tanh")}}});
    add("clip min and max", {"Clip", {away(rnd({10}, 28, -2, 2), {-0.5f, 1}), f32({}, {-0.5f}), f32({}, {1})}});
    add("clip only max", {"Clip", {away(rnd({10}, 29, -2, 2), {0.25f}), std::nullopt, f32({}, {0.25f})}});
    add("clip only min", {"Clip", {away(rnd({10}, 30, -2, 2), {0.25f}), f32({}, {0.25f})}});
    add("clip min above max", {"Clip", {away(rnd({6}, 31, -2, 2), {1}), f32({}, {1}), f32({}, {0})}});
    add("clip no bounds", {"Clip", {rnd({4}, 32)}});
    add("clip opset 9 attributes",
        with_opset({"Clip", {away(rnd({10}, 33, -2, 2), {-1, 0.5f})}, {{"min", attr_f(-1)}, {"max", attr_f(0.5f)}}},
                   9));
    add("clip opset 11 inputs",
        with_opset({"Clip", {away(rnd({10}, 34, -2, 2), {-1, 0.5f}), f32({}, {-1}), f32({}, {0.5f})}}, 11));
    add("where broadcast",
        {"Where", {Array::of<bool>({2, 1}, {true, false}), rnd({3}, 35), rnd({}, 36)}, {}, 13, 1, {1, 2}});
    add("where same shape",
        {"Where", {Array::of<bool>({4}, {false, true, true, false}), rnd({4}, 37), rnd({4}, 38)}, {}, 13, 1, {1, 2}});
    // ---------------------------------------------------------------- shape
    add("reshape 0 and -1", {"Reshape", {rnd({2, 3, 4}, 40), i64({2}, {0, -1})}});
    add("reshape allowzero",
        with_opset({"Reshape", {rnd({2, 3}, 41), i64({2}, {3, 2})}, {{"allowzero", attr_i(1)}}}, 14));
    add("flatten axis 2", {"Flatten", {rnd({2, 3, 4}, 42)}, {{"axis", attr_i(2)}}});
    add("flatten axis 0", {"Flatten", {rnd({2, 3}, 43)}, {{"axis", attr_i(0)}}});
    add("flatten axis -1", {"Flatten", {rnd({2, 3, 4}, 44)}, {{"axis", attr_i(-1)}}});
    add("squeeze axes input", {"Squeeze", {rnd({1, 3, 1}, 45), i64({1}, {-1})}});
    add("squeeze all", {"Squeeze", {rnd({1, 3, 1}, 46)}});
    add("squeeze attribute", with_opset({"Squeeze", {rnd({1, 3, 1}, 47)}, {{"axes", attr_ints({0})}}}, 11));
    add("unsqueeze negative axes", {"Unsqueeze", {rnd({3}, 48), i64({2}, {0, -1})}});
    add("unsqueeze attribute", with_opset({"Unsqueeze", {rnd({2}, 49)}, {{"axes", attr_ints({1})}}}, 11));
    add("transpose default", {"Transpose", {rnd({2, 3, 4}, 50)}});
    add("transpose perm", {"Transpose", {rnd({2, 3, 4, 5}, 51)}, {{"perm", attr_ints({0, 2, 3, 1})}}});
    add("transpose negative perm", {"Transpose", {rnd({2, 3, 4}, 52)}, {{"perm", attr_ints({-1, 0, -2})}}});
    add("expand", {"Expand", {rnd({3, 1}, 53), i64({3}, {2, 1, 2})}});
    add("expand scalar", {"Expand", {rnd({}, 54), i64({2}, {2, 3})}});
    add("expand to smaller shape", {"Expand", {rnd({2, 1}, 55), i64({1}, {1})}});
    add("concat axis 0", {"Concat", {rnd({1, 3}, 56), rnd({2, 3}, 57)}, {{"axis", attr_i(0)}}, 13, 1, {0, 1}});
    add("concat negative axis", {"Concat",
                                 {rnd({2, 1, 2}, 58), rnd({2, 3, 2}, 59), rnd({2, 0, 2}, 60), rnd({2, 2, 2}, 61)},
                                 {{"axis", attr_i(-2)}},
                                 13,
                                 1,
                                 {0, 1, 2, 3}});
    add("split equal", {"Split", {rnd({6, 2}, 62)}, {}, 13, 3});
    add("split input sizes", {"Split", {rnd({2, 3}, 63), i64({2}, {1, 2})}, {{"axis", attr_i(-1)}}, 13, 2});
    add("split attribute", with_opset({"Split", {rnd({3, 2}, 64)}, {{"split", attr_ints({2, 1})}}, 11, 2}, 11));
    add("slice steps", {"Slice", {rnd({10}, 65), i64({1}, {1}), i64({1}, {10}), i64({1}, {0}), i64({1}, {3})}});
    add("slice negative step", {"Slice",
                                {rnd({5}, 66), i64({1}, {4}), i64({1}, {std::numeric_limits<std::int64_t>::min()}),
                                 i64({1}, {0}), i64({1}, {-2})}});
    add("slice negative step from end",
        {"Slice", {rnd({5}, 67), i64({1}, {-1}), i64({1}, {-4}), std::nullopt, i64({1}, {-1})}});
    add("slice negative axis", {"Slice", {rnd({3, 4}, 68), i64({1}, {1}), i64({1}, {-1}), i64({1}, {-1})}});
    add("slice two axes",
        {"Slice", {rnd({4, 5, 3}, 69), i64({2}, {3, 1}), i64({2}, {0, 100}), i64({2}, {0, 2}), i64({2}, {-1, 1})}});
    add("slice clamps", {"Slice", {rnd({5}, 70), i64({1}, {-100}), i64({1}, {100})}});
    add("slice empty", {"Slice", {rnd({5}, 71), i64({1}, {3}), i64({1}, {-1}), std::nullopt, i64({1}, {-1})}});
    add("slice opset 9 attributes",
        with_opset({"Slice",
                    {rnd({2, 3}, 72)},
                    {{"starts", attr_ints({0})}, {"ends", attr_ints({2})}, {"axes", attr_ints({1})}}},
                   9));
    add("gather repeated negative indices", {"Gather", {rnd({3, 2}, 73), i64({4}, {-1, 0, 2, -3})}});
    add("gather scalar index axis 1", {"Gather", {rnd({2, 3}, 74), i64({}, {2})}, {{"axis", attr_i(1)}}});
    add("gather 2-D int32 indices axis -1",
        {"Gather", {rnd({2, 4}, 75), Array::of<std::int32_t>({2, 2}, {0, 3, -2, 3})}, {{"axis", attr_i(-1)}}});
    add("cast float to float", {"Cast", {rnd({3}, 76)}, {{"to", attr_i(1)}}});
    add("identity", {"Identity", {rnd({2, 2}, 77)}});
    add("dropout with mask", {"Dropout", {rnd({2, 3}, 78)}, {}, 13, 2});
    add("dropout training off",
        with_opset({"Dropout", {rnd({3}, 79), f32({}, {0.5f}), Array::of<bool>({}, {false})}}, 12));
  }
  void finite_differences() {
    QFETCH(int, index);
    try {
      QCOMPARE(QString::fromStdString(test::grad_check(checks()[static_cast<std::size_t>(index)])), QString());
    } catch (const Error& e) {
      QFAIL(e.what());
    }
  }

  // Exact gradients (incoming gradient of ones unless given) at kinks and where torch's
  // conventions decide; the expected numbers are torch 1.13's.
  void exact_data() {
    QTest::addColumn<int>("index");
    exact_cases().clear();
    auto row = [](const char* name, ExactCase c) {
      QTest::newRow(name) << static_cast<int>(exact_cases().size());
      exact_cases().push_back(std::move(c));
    };
    row("relu at 0 is 0", {"Relu", {f32({3}, {0, -0.f, 1})}, {}, 13, 0, {0, 0, 1}});
    row("leaky relu at 0 is alpha",
        {"LeakyRelu", {f32({3}, {0, -1, 1})}, {{"alpha", attr_f(0.1f)}}, 13, 0, {0.1f, 0.1f, 1}});
    row("abs at 0 is 0", {"Abs", {f32({3}, {0, -2, 2})}, {}, 13, 0, {0, -1, 1}});
    row("hard swish at -3 and 3", {"HardSwish", {f32({5}, {-3, 3, -4, 4, 0})}, {}, 13, 0, {-0.5, 1.5, 0, 1, 0.5}});
    row("hard sigmoid ends are 0", {"HardSigmoid",
                                    {f32({3}, {-3, 3, 0})},
                                    {{"alpha", attr_f(1.0f / 6)}, {"beta", attr_f(0.5f)}},
                                    13,
                                    0,
                                    {0, 0, 1.0f / 6}});
    row("clip passes at its bounds",
        {"Clip", {f32({4}, {-1, 1, 0, 2}), f32({}, {-1}), f32({}, {1})}, {}, 13, 0, {1, 1, 1, 0}});
    row("clip min above max is 0",
        {"Clip", {f32({4}, {-1, 1, 0, 2}), f32({}, {1}), f32({}, {0})}, {}, 13, 0, {0, 0, 0, 0}});
    row("sqrt at 0 is inf", {"Sqrt", {f32({2}, {0, 4})}, {}, 13, 0, {kInf, 0.25}});
    row("pow base at 0", {"Pow",
                          {f32({5}, {0, 0, 0, 2, -2}), f32({5}, {0, 2, -1, 0, 0.5f})},
                          {},
                          13,
                          0,
                          {0, 0, -kInf, 0, std::nan("")}});
    row("pow exponent at 0", {"Pow",
                              {f32({5}, {0, 0, 0, 2, -2}), f32({5}, {0, 2, -1, 0, 0.5f})},
                              {},
                              13,
                              1,
                              {0, 0, -kInf, 0.6931471824645996, std::nan("")}});
    row("gelu", {"Gelu", {f32({1}, {0.5f})}, {}, 13, 0, {0.8674951195716858}});
    row("gelu tanh", {"Gelu", {f32({1}, {0.5f})}, {{"approximate", attr_s("tanh")}}, 13, 0, {0.8673698902130127}});
    row("where routes to X where cond",
        {"Where", {Array::of<bool>({2}, {true, false}), f32({2}, {1, 2}), f32({}, {5})}, {}, 13, 1, {1, 0}});
    row("where routes to Y elsewhere",
        {"Where", {Array::of<bool>({3}, {true, false, false}), f32({3}, {1, 2, 3}), f32({}, {5})}, {}, 13, 2, {2}});
    row("gather adds repeated rows",
        {"Gather", {f32({3, 2}, {1, 2, 3, 4, 5, 6}), i64({4}, {2, 0, -1, 2})}, {}, 13, 0, {1, 1, 0, 0, 3, 3}});
    row("expand sums repeats", {"Expand", {f32({2, 1}, {1, 2}), i64({3}, {3, 2, 4})}, {}, 13, 0, {12, 12}});
    row("add sums broadcast", {"Add", {f32({3}, {1, 2, 3}), f32({2, 1}, {1, 2})}, {}, 13, 1, {3, 3}});
    row("sub negates", {"Sub", {f32({2}, {1, 2}), f32({}, {5})}, {}, 13, 1, {-2}});
  }
  void exact() {
    QFETCH(int, index);
    const ExactCase& c = exact_cases()[static_cast<std::size_t>(index)];
    try {
      const auto out = test::run_node(c.op, c.in, c.attrs, c.opset, 1);
      const Grads g = backward(c.op, c.in, {ones_like(out[0])}, {}, c.attrs, c.opset);
      QVERIFY(c.slot < g.size() && g[c.slot]);
      QCOMPARE(g[c.slot]->shape(), c.in[c.slot]->shape());
      QCOMPARE(type_of(g[c.slot]->type()), QString("F32"));
      QCOMPARE(mismatch(*g[c.slot], c.want), QString());
    } catch (const Error& e) {
      QFAIL(e.what());
    }
  }

  // Inputs that are not differentiable, not wanted, or that no gradient reaches get nullopt.
  void no_gradient() {
    const auto none = [](const Grads& g, std::size_t slot) { return slot < g.size() && !g[slot]; };
    const Array x = f32({3}, {1, -2, 3});
    const Array g3 = f32({3}, {1, 1, 1});
    // Integer data.
    QVERIFY(none(backward("Add", {i64({2}, {1, 2}), i64({2}, {3, 4})}, {i64({2}, {1, 1})}), 0));
    QVERIFY(none(backward("Relu", {i64({2}, {-1, 2})}, {i64({2}, {1, 1})}), 0));
    QVERIFY(none(backward("Reshape", {i64({2}, {1, 2}), i64({2}, {2, 1})}, {i64({2, 1}, {1, 1})}), 0));
    QVERIFY(none(backward("Concat", {i64({1}, {1}), i64({1}, {2})}, {i64({2}, {1, 1})}, {}, {{"axis", attr_i(0)}}), 1));
    // Indices, shapes, axes, bounds and conditions.
    const Grads pw = backward("Pow", {x, i64({}, {2})}, {g3});
    QVERIFY(pw[0] && none(pw, 1));
    const Grads cl = backward("Clip", {x, f32({}, {0}), f32({}, {2})}, {g3});
    QVERIFY(cl[0] && none(cl, 1) && none(cl, 2));
    const Grads wh = backward("Where", {Array::of<bool>({3}, {true, false, true}), x, x}, {g3});
    QVERIFY(none(wh, 0) && wh[1] && wh[2]);
    const Grads ga = backward("Gather", {x, i64({1}, {1})}, {f32({1}, {1})});
    QVERIFY(ga[0] && none(ga, 1));
    const Grads rs = backward("Reshape", {x, i64({2}, {3, 1})}, {f32({3, 1}, {1, 1, 1})});
    QVERIFY(rs[0] && none(rs, 1));
    const Grads sl = backward("Slice", {x, i64({1}, {0}), i64({1}, {2})}, {f32({2}, {1, 1})});
    QVERIFY(sl[0] && none(sl, 1) && none(sl, 2));
    // Not wanted: no work, no gradient.
    const Grads mul = backward("Mul", {x, x}, {g3}, {false, true});
    QVERIFY(none(mul, 0) && mul[1]);
    // No incoming gradient at all.
    const Grads zero = backward("Mul", {x, x}, {std::nullopt});
    QVERIFY(none(zero, 0) && none(zero, 1));
    QVERIFY(none(backward("Split", {x}, {std::nullopt, std::nullopt, std::nullopt}), 0));
    // Cast to an integer type passes none; from an integer type there is nothing to get.
    const Grads toint = backward("Cast", {x}, {Array::of<std::int32_t>({3}, {1, 1, 1})}, {}, {{"to", attr_i(6)}});
    QVERIFY(none(toint, 0));
    QVERIFY(none(backward("Cast", {i64({1}, {1})}, {f32({1}, {1})}, {}, {{"to", attr_i(1)}}), 0));
    // Equal, Shape, Constant and ConstantOfShape have non-float outputs: no rule at all.
    for (const char* op : {"Equal", "Shape", "Constant", "ConstantOfShape"})
      QVERIFY2(!OpRegistry::builtin().find(op)->backward, op);
  }

  // Split's outputs without a gradient contribute zeros to their block.
  void split_with_missing_gradients() {
    const Array x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    const Grads g = backward("Split", {x, i64({3}, {1, 0, 2})},
                             {std::nullopt, f32({2, 0}, {}), f32({2, 2}, {7, 8, 9, 10})}, {}, {{"axis", attr_i(1)}});
    QVERIFY(g[0]);
    QCOMPARE(mismatch(*g[0], {0, 7, 8, 0, 9, 10}), QString());
    const Grads first = backward("Split", {f32({4}, {1, 2, 3, 4})}, {f32({2}, {5, 6}), std::nullopt});
    QCOMPARE(mismatch(*first[0], {5, 6, 0, 0}), QString());
  }

  // Cast between F32 and F64 returns the gradient in the input's type.
  void cast_between_floats() {
    const Array x = f32({2}, {1.5f, -2});
    const Grads up = backward("Cast", {x}, {Array::of<double>({2}, {0.25, -3})}, {}, {{"to", attr_i(11)}});
    QCOMPARE(type_of(up[0]->type()), QString("F32"));
    QCOMPARE(mismatch(*up[0], {0.25, -3}), QString());
    const Array xd = Array::of<double>({2}, {1.5, -2});
    const Grads down = backward("Cast", {xd}, {f32({2}, {0.5f, 4})}, {}, {{"to", attr_i(1)}});
    QCOMPARE(type_of(down[0]->type()), QString("F64"));
    QCOMPARE(mismatch(*down[0], {0.5, 4}), QString());
  }

  // F64 nodes get F64 gradients equal to the F32 ones (to float precision).
  void f64_matches_f32_data() {
    QTest::addColumn<int>("index");
    checks().clear();
    add("mul broadcast", {"Mul", {rnd({2, 3}, 1), rnd({2, 1}, 2)}, {}, 13, 1, {0, 1}});
    add("sub broadcast", {"Sub", {rnd({2, 3}, 1), rnd({3}, 2)}, {}, 13, 1, {0, 1}});
    add("div", {"Div", {rnd({4}, 3), rnd({4}, 4, 0.5f, 2)}, {}, 13, 1, {0, 1}});
    add("pow", {"Pow", {rnd({4}, 5, 0.5f, 2), rnd({4}, 6)}, {}, 13, 1, {0, 1}});
    add("sigmoid", {"Sigmoid", {rnd({4}, 7, -3, 3)}});
    add("gelu", {"Gelu", {rnd({4}, 8, -3, 3)}});
    add("clip", {"Clip", {rnd({4}, 9, -2, 2), f32({}, {-0.5f}), f32({}, {0.5f})}});
    add("where", {"Where", {Array::of<bool>({2, 1}, {false, true}), rnd({2}, 10), rnd({2, 2}, 11)}, {}, 13, 1, {1, 2}});
    add("expand", {"Expand", {rnd({2, 1}, 12), i64({2}, {2, 3})}});
    add("gather", {"Gather", {rnd({3}, 13), i64({3}, {0, 0, 2})}});
    add("transpose", {"Transpose", {rnd({2, 3}, 14)}});
    add("slice", {"Slice", {rnd({5}, 15), i64({1}, {4}), i64({1}, {0}), i64({1}, {0}), i64({1}, {-2})}});
    add("concat", {"Concat", {rnd({1, 2}, 16), rnd({2, 2}, 17)}, {{"axis", attr_i(0)}}, 13, 1, {0, 1}});
    add("split", {"Split", {rnd({4}, 18)}, {}, 13, 2});
  }
  void f64_matches_f32() {
    QFETCH(int, index);
    const GradCheck& c = checks()[static_cast<std::size_t>(index)];
    std::vector<In> in64;
    for (const auto& x : c.in) in64.push_back(x && x->type() == DType::F32 ? In(x->cast(DType::F64)) : x);
    try {
      const auto out = test::run_node(c.op, c.in, c.attrs, c.opset, c.outputs);
      const auto out64 = test::run_node(c.op, in64, c.attrs, c.opset, c.outputs);
      std::vector<In> g32, g64;
      for (std::size_t k = 0; k < out.size(); ++k) {
        g32.push_back(test::pseudo_random(out[k].shape(), static_cast<std::uint32_t>(7 + k)));
        g64.push_back(g32.back()->cast(DType::F64));
      }
      const Grads a = backward(c.op, c.in, g32, {}, c.attrs, c.opset);
      const Grads b = backward(c.op, in64, g64, {}, c.attrs, c.opset);
      for (const auto slot : c.check) {
        QVERIFY(a[slot] && b[slot]);
        QCOMPARE(type_of(b[slot]->type()), QString("F64"));
        QCOMPARE(b[slot]->shape(), a[slot]->shape());
        const auto x = as_doubles(*a[slot]), y = as_doubles(*b[slot]);
        for (std::size_t i = 0; i < x.size(); ++i)
          QVERIFY2(std::fabs(x[i] - y[i]) <= 1e-5 * std::max(1.0, std::fabs(y[i])),
                   qPrintable(QString("element %1: F32 %2, F64 %3").arg(i).arg(x[i]).arg(y[i])));
      }
    } catch (const Error& e) {
      QFAIL(e.what());
    }
  }

  // Float types other than F32 and F64 are refused, naming the node, not differentiated.
  void half_precision_is_refused() {
    Array h(DType::F16, {2});
    try {
      backward("Reshape", {h, i64({1}, {2})}, {Array(DType::F16, {2})});
      QFAIL("no error");
    } catch (const Error& e) {
      QCOMPARE(e.kind(), Error::Kind::Unsupported);
      QVERIFY2(QString(e.what()).startsWith("node 't' (Reshape): the gradient of a F16 input"), e.what());
    }
  }

  // An incoming gradient that does not match its output is reported, not read out of bounds.
  void mismatched_incoming_gradient_fails() {
    try {
      backward("Relu", {f32({3}, {1, 2, 3})}, {f32({2}, {1, 1})});
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("the gradient of output 0 is F32 [2], the output F32 [3]"), e.what());
    }
  }

  // The SIMD kernels behind Exp, Log, Tanh, Erf, Sigmoid and Gelu (forward and backward) against
  // libm in double, over their whole range, with the special values.
  void vector_math_matches_libm() {
    constexpr std::int64_t n = 200001;
    std::vector<float> x(n), y(n);
    const auto check = [&](const char* name, float lo, float hi, void (*kernel)(const float*, float*, std::int64_t),
                           double (*ref)(double), double rtol, double atol) {
      for (std::int64_t i = 0; i < n; ++i) x[i] = lo + (hi - lo) * static_cast<float>(i) / (n - 1);
      kernel(x.data(), y.data(), n);
      for (std::int64_t i = 0; i < n; ++i) {
        const double want = ref(x[i]), got = y[i];
        const bool ok = std::fabs(want) > std::numeric_limits<float>::max()
                            ? std::isinf(got)
                            : std::fabs(got - want) <= atol + rtol * std::fabs(want);
        if (!ok) QFAIL(qPrintable(QString("%1(%2) = %3, libm %4").arg(name).arg(x[i]).arg(got).arg(want)));
      }
    };
    check(
        "exp", -110, 90, kernels::exp, [](double v) { return std::exp(v); }, 1e-6, 1e-44);
    check(
        "log", 1e-30f, 1e30f, kernels::log, [](double v) { return std::log(v); }, 1e-6, 0);
    check(
        "log", 0.25f, 4, kernels::log, [](double v) { return std::log(v); }, 1e-6, 1e-7);
    check(
        "tanh", -12, 12, kernels::tanh, [](double v) { return std::tanh(v); }, 1e-6, 0);
    check(
        "erf", -7, 7, kernels::erf, [](double v) { return std::erf(v); }, 1e-6, 0);
    check(
        "sqrt", 0, 1e6f, kernels::sqrt, [](double v) { return std::sqrt(v); }, 1e-7, 0);
    // Special values, in place.
    constexpr float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    float e[5] = {-inf, inf, nan, 0, -200};
    kernels::exp(e, e, 5);
    QVERIFY(e[0] == 0 && e[1] == inf && std::isnan(e[2]) && e[3] == 1 && e[4] == 0);
    float l[4] = {0, -1, inf, nan};
    kernels::log(l, l, 4);
    QVERIFY(l[0] == -inf && std::isnan(l[1]) && l[2] == inf && std::isnan(l[3]));
    float t[3] = {-inf, inf, nan};
    float u[3];
    kernels::tanh(t, u, 3);
    QVERIFY(u[0] == -1 && u[1] == 1 && std::isnan(u[2]));
    kernels::erf(t, u, 3);
    QVERIFY(u[0] == -1 && u[1] == 1 && std::isnan(u[2]));
  }

  void every_operator_of_this_part_has_a_rule() {
    for (const char* op :
         {"Add",   "Sub",   "Mul",       "Div",     "Pow",      "Sqrt",        "Neg",       "Abs",    "Exp",
          "Log",   "Relu",  "LeakyRelu", "Sigmoid", "Tanh",     "HardSigmoid", "HardSwish", "Clip",   "Erf",
          "Gelu",  "Where", "Reshape",   "Flatten", "Squeeze",  "Unsqueeze",   "Transpose", "Expand", "Concat",
          "Split", "Slice", "Gather",    "Cast",    "Identity", "Dropout"})
      QVERIFY2(OpRegistry::builtin().find(op)->backward, op);
  }

 private:
  struct ExactCase {
    std::string op;
    std::vector<In> in;
    std::map<std::string, Attribute> attrs;
    int opset = 13;
    std::size_t slot = 0;
    std::vector<double> want;
  };
  static std::vector<ExactCase>& exact_cases() {
    static std::vector<ExactCase> all;
    return all;
  }
};

QTEST_GUILESS_MAIN(TestEngineGradElementwise)
#include "test_engine_grad_elementwise.moc"
