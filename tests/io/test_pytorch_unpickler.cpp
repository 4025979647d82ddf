// The restricted unpickler on its own: every opcode Python's pickle writes for plain data in
// protocols 0-5 (vectors pickled by CPython: tests/data/pytorch/pickles.json), its limits, and
// which globals it refuses.
#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <algorithm>
#include <string>
#include <vector>

#include "io/pytorch/safe_globals.h"
#include "io/pytorch/torch_objects.h"
#include "io/pytorch/unpickler.h"
#include "json_file.h"
#include "paramscope/error.h"
#include "test_paths.h"

using namespace paramscope;
using namespace paramscope::io::pytorch;

namespace {

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::vector<std::byte> from_hex(const QString& h) {
  const QByteArray raw = QByteArray::fromHex(h.toLatin1());
  std::vector<std::byte> out(static_cast<std::size_t>(raw.size()));
  if (!out.empty()) std::memcpy(out.data(), raw.constData(), out.size());
  return out;
}

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> out(s.size());
  if (!s.empty()) std::memcpy(out.data(), s.data(), s.size());
  return out;
}

// The same text tests/tools/make_pytorch_fixtures.py's canon() prints for the Python object.
std::string repr(const Value* v, std::vector<const Value*>& path) {
  switch (v->kind) {
    case Kind::None: return "None";
    case Kind::Bool: return v->flag ? "True" : "False";
    case Kind::Int: return std::to_string(v->integer);
    case Kind::BigInt: return v->flag ? v->text : "bigint:" + hex(v->text);
    case Kind::Float: return scalar_text(*v);
    case Kind::Str: return "s:" + v->text;
    case Kind::Bytes: return "b:" + hex(v->text);
    case Kind::Global: return "g:" + v->text;
    case Kind::Object: return "obj:" + v->text;
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    default: break;
  }
  if (std::find(path.begin(), path.end(), v) != path.end()) return "<cycle>";
  path.push_back(v);
  std::string out;
  auto list = [&](const char* open, const char* close) {
    out = open;
    for (std::size_t i = 0; i < v->items.size(); ++i) out += (i ? ", " : "") + repr(v->items[i], path);
    out += close;
  };
  if (v->is(Kind::List)) list("[", "]");
  else if (v->is(Kind::Tuple)) list("(", ")");
  else if (v->is(Kind::Set)) list("set(", ")");
  else {
    out = "{";
    for (std::size_t i = 0; i < v->dict_size(); ++i)
      out += (i ? ", " : "") + repr(v->key(i), path) + ": " + repr(v->value(i), path);
    out += "}";
  }
  path.pop_back();
  return out;
}

struct Loaded {
  Arena arena{"mem.pkl"};
  TorchObjects objs{"mem.pkl", arena};
  const Value* root = nullptr;
  std::string text;
};

void load(Loaded& l, const std::vector<std::byte>& data) {
  l.objs.set_where("data.pkl");
  Unpickler u(data, 0, "data.pkl", "mem.pkl", l.arena, l.objs);
  l.root = u.load();
  std::vector<const Value*> path;
  l.text = repr(l.root, path);
}

Error load_error(const std::string& pickle) {
  Loaded l;
  try {
    load(l, bytes_of(pickle));
  } catch (const Error& e) {
    return e;
  }
  return Error(Error::Kind::Usage, "no error");
}

}  // namespace

class TestPytorchUnpickler : public QObject {
  Q_OBJECT

private slots:
  void cpython_vectors_data() {
    QTest::addColumn<QString>("hex");
    QTest::addColumn<QString>("expected");
    const auto vectors = test::read_json(test::data("pytorch/pickles.json"))["pickles"].toArray();
    QVERIFY(vectors.size() > 90);
    for (const auto& v : vectors) {
      const auto o = v.toObject();
      QTest::newRow(o["name"].toString().toUtf8().constData()) << o["hex"].toString() << o["repr"].toString();
    }
  }
  void cpython_vectors() {
    QFETCH(QString, hex);
    QFETCH(QString, expected);
    Loaded l;
    load(l, from_hex(hex));
    QCOMPARE(QString::fromStdString(l.text), expected);
  }

  void shared_references_are_one_value() {
    // [a, a] through the memo (BINPUT/BINGET) is the same Value twice, as in Python.
    Loaded l;
    load(l, bytes_of(std::string("\x80\x02]q\x00(]q\x01K\x01" "ah\x01" "e.", 16)));
    QCOMPARE(QString::fromStdString(l.text), QString("[[1], [1]]"));
    QCOMPARE(l.root->items[0], l.root->items[1]);
  }

  void position_after_stop() {
    // Legacy files hold pickles back to back: the next one starts right after STOP.
    const auto data = bytes_of(std::string("\x80\x02K\x05.\x80\x02K\x07.", 10));
    Arena arena("mem");
    TorchObjects objs("mem", arena);
    Unpickler a(data, 0, "first", "mem", arena, objs);
    QCOMPARE(a.load()->integer, std::int64_t{5});
    QCOMPARE(a.position(), std::uint64_t{5});
    Unpickler b(data, a.position(), "second", "mem", arena, objs);
    QCOMPARE(b.load()->integer, std::int64_t{7});
  }

  void errors_data() {
    QTest::addColumn<QByteArray>("pickle");
    QTest::addColumn<QString>("message");
    auto row = [](const char* name, std::string p, const char* msg) {
      QTest::newRow(name) << QByteArray(p.data(), static_cast<qsizetype>(p.size())) << msg;
    };
    row("empty", "", "truncated: pickle opcode needs 1 bytes");
    row("unknown opcode", std::string("\x80\x02\xff", 3), "unknown pickle opcode 0xff at offset 2");
    row("protocol 6", std::string("\x80\x06N.", 4), "pickle protocol 6");
    row("no STOP", std::string("\x80\x02N", 3), "truncated");
    row("STOP on empty stack", std::string("\x80\x02.", 3), "STOP with an empty stack");
    row("underflow", std::string("\x80\x02" "0.", 4), "MARK that is not there");
    row("REDUCE without args", std::string("\x80\x02N\x85", 4) + "R.", "stack underflow");
    row("REDUCE args not a tuple", std::string("\x80\x02NNR.", 5), "not a tuple");
    row("missing memo", std::string("\x80\x02h\x05.", 5), "memo key 5 was never stored");
    row("huge memo", std::string("\x80\x02j\xff\xff\xff\xff.", 8), "memo key 4294967295");
    row("text memo", "g99999999999\n.", "memo key 99999999999 was never stored");
    row("negative LONG4", std::string("\x80\x02\x8b\xff\xff\xff\xff.", 8), "negative LONG4 size");
    row("LONG4 past end", std::string("\x80\x02\x8b\x00\x00\x00\x7f", 7), "truncated: LONG4 bytes");
    row("BINUNICODE8 past end", std::string("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff", 11), "truncated");
    row("negative BINSTRING", std::string("\x80\x02T\xff\xff\xff\xff.", 8), "negative BINSTRING size");
    row("frame past end", std::string("\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.", 13), "frame of 255 bytes");
    row("unquoted STRING", "Sabc\n.", "not a quoted string");
    row("bad INT", "Iabc\n.", "is not a number");
    row("bad FLOAT", "F1.5x\n.", "is not a number");
    row("line without end", "I12", "has no end of line");
    row("odd DICT", std::string("\x80\x02(K\x01" "d.", 6), "odd number");
    row("APPEND to a dict", std::string("\x80\x02}K\x01" "a.", 6), "APPEND to a dict");
    row("SETITEM on a list", std::string("\x80\x02]K\x01K\x02s.", 8), "SETITEM on a list");
    row("ADDITEMS on a list", std::string("\x80\x04](K\x01\x90.", 7), "ADDITEMS on a list");
    row("STACK_GLOBAL of ints", std::string("\x80\x04K\x01K\x02\x93.", 8), "STACK_GLOBAL needs two strings");
    row("EXT1", std::string("\x80\x02\x82\x01.", 5), "extension registry");
    row("out-of-band buffer", std::string("\x80\x05\x97.", 4), "out-of-band buffers");
    row("persistent id not a tuple", std::string("\x80\x02K\x01Q.", 5), "persistent id");
    row("unknown persistent kind", std::string("\x80\x02X\x03\x00\x00\x00" "abc\x85Q.", 12), "unknown persistent id kind 'abc'");
    row("empty global", "c\nx\n.", "empty module or name");
  }
  void errors() {
    QFETCH(QByteArray, pickle);
    QFETCH(QString, message);
    const Error e = load_error(pickle.toStdString());
    const QString what = QString::fromUtf8(e.what());
    QVERIFY2(e.kind() == Error::Kind::BadInput || e.kind() == Error::Kind::Unsupported, e.what());
    QVERIFY2(what.startsWith("mem.pkl: data.pkl: "), e.what());
    QVERIFY2(what.contains(message), e.what());
  }

  void stack_is_bounded() {
    // DUP a million times: one byte per push, so a small file could otherwise grow memory fast.
    const std::string p = std::string("\x80\x02N", 3) + std::string(Unpickler::kMaxStack, '2') + ".";
    const Error e = load_error(p);
    QVERIFY2(QString(e.what()).contains("pickle stack grows past 1000000"), e.what());
    const Error marks = load_error(std::string("\x80\x02", 2) + std::string(Unpickler::kMaxStack + 1, '(') + "N.");
    QVERIFY2(QString(marks.what()).contains("too many MARKs"), marks.what());
  }

  void deep_nesting_parses_without_recursion() {
    // 200000 nested lists: parsing is iterative and the arena frees them without recursion.
    constexpr int depth = 200'000;
    const std::string p = std::string("\x80\x02", 2) + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
    Loaded l;
    const auto data = bytes_of(p);
    Unpickler u(data, 0, "data.pkl", "mem.pkl", l.arena, l.objs);
    const Value* v = u.load();
    int levels = 1;
    while (!v->items.empty()) {
      v = v->items[0];
      ++levels;
    }
    QCOMPARE(levels, depth);
  }

  void memo_put_and_get_in_text() {
    Loaded l;
    load(l, bytes_of("(lp0\nI1\naI2\nag0\na."));  // protocol 0: PUT 0, then GET 0 appends the list to itself
    QCOMPARE(QString::fromStdString(l.text), QString("[1, 2, <cycle>]"));
  }

  void objects_stay_opaque() {
    // __main__.Net() with state {'w': 1}: NEWOBJ + BUILD keep the class name and state.
    Loaded l;
    load(l, bytes_of(std::string("\x80\x02" "c__main__\nNet\n)\x81}X\x01\x00\x00\x00wK\x01sb.", 30)));
    QCOMPARE(l.root->kind, Kind::Object);
    QCOMPARE(QString::fromStdString(l.root->text), QString("__main__.Net"));
    QVERIFY(l.root->state && l.root->state->get("w") && l.root->state->get("w")->integer == 1);
    // copyreg._reconstructor (protocol 0/1 instances) and an unknown REDUCE.
    Loaded r;
    load(r, bytes_of("ccopy_reg\n_reconstructor\n(cmymod\nThing\nc__builtin__\nobject\nNtR(dS'a'\nI3\nsb."));
    QCOMPARE(QString::fromStdString(r.root->text), QString("mymod.Thing"));
    QCOMPARE(r.root->state->get("a")->integer, std::int64_t{3});
    Loaded c;
    load(c, bytes_of("cnumpy.core.multiarray\nscalar\n(I1\ntR."));
    QCOMPARE(QString::fromStdString(c.text), QString("obj:numpy.core.multiarray.scalar"));
  }

  void dangerous_globals_data() {
    QTest::addColumn<QString>("module");
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("dangerous");
    const char* bad[][2] = {
        {"os", "system"}, {"posix", "system"}, {"nt", "system"}, {"os.path", "join"}, {"subprocess", "Popen"},
        {"subprocess", "check_output"}, {"sys", "modules"}, {"builtins", "eval"}, {"builtins", "exec"},
        {"builtins", "compile"}, {"builtins", "open"}, {"builtins", "getattr"}, {"builtins", "setattr"},
        {"builtins", "__import__"}, {"builtins", "globals"}, {"builtins", "input"}, {"builtins", "breakpoint"},
        {"importlib", "import_module"}, {"importlib.util", "spec_from_file_location"}, {"pickle", "loads"},
        {"_pickle", "loads"}, {"shutil", "rmtree"}, {"socket", "socket"}, {"runpy", "run_path"},
        {"code", "InteractiveInterpreter"}, {"pty", "spawn"}, {"webbrowser", "open"}, {"ctypes", "CDLL"},
        {"marshal", "loads"}, {"types", "FunctionType"}, {"functools", "partial"}, {"operator", "attrgetter"},
        {"operator", "methodcaller"}, {"_operator", "attrgetter"}, {"torch", "load"}, {"torch.hub", "load"},
        {"torch.jit", "load"}, {"torch.serialization", "load"}, {"torch.storage", "_load_from_bytes"},
        {"pdb", "set_trace"}, {"platform", "popen"}, {"requests", "get"}, {"urllib.request", "urlopen"},
        {"numpy", "load"}, {"numpy.testing", "assert_equal"}, {"torch", "os.system"}, {"collections", "os.system"},
        {"builtins", "__dict__"}, {"torch", "_C._jit_script_compile"}, {"timeit", "timeit"}, {"multiprocessing", "Process"},
        {"pathlib", "Path.write_text"}, {"types", "CodeType"}, {"logging.config", "listen"},
        {"torch.fx.graph_module", "reduce_graph_module"},
    };
    for (auto& [m, n] : bad) QTest::newRow((std::string(m) + "." + n).c_str()) << m << n << true;
    const char* good[][2] = {
        {"collections", "OrderedDict"}, {"torch._utils", "_rebuild_tensor_v2"}, {"torch._utils", "_rebuild_parameter"},
        {"torch", "FloatStorage"}, {"torch", "Size"}, {"torch", "device"}, {"torch", "bfloat16"},
        {"torch.nn.modules.linear", "Linear"}, {"__main__", "TinyNet"}, {"builtins", "set"}, {"builtins", "object"},
        {"copyreg", "_reconstructor"}, {"_codecs", "encode"}, {"numpy.core.multiarray", "_reconstruct"},
        {"numpy", "dtype"}, {"argparse", "Namespace"}, {"mypkg.io", "Model"}, {"mypkg.code.blocks", "Block"},
        {"torch.jit._pickle", "build_intlist"}, {"torch.jit._pickle", "restore_type_tag"}, {"__torch__.Net", "Net"},
        {"copyreg", "__newobj__"}, {"pathlib_like_name", "Thing"}, {"torch.serialization", "_get_layout"},
        {"pathlib", "PosixPath"}, {"types", "SimpleNamespace"}, {"logging", "getLogger"},
    };
    for (auto& [m, n] : good) QTest::newRow((std::string(m) + "." + n).c_str()) << m << n << false;
  }
  void dangerous_globals() {
    QFETCH(QString, module);
    QFETCH(QString, name);
    QFETCH(bool, dangerous);
    QCOMPARE(is_dangerous_global(module.toStdString(), name.toStdString()), dangerous);
    // Through the unpickler: refused by name, before anything else happens.
    const std::string p = "c" + module.toStdString() + "\n" + name.toStdString() + "\n(tR.";
    if (dangerous) {
      const Error e = load_error(p);
      QCOMPARE(e.kind(), Error::Kind::BadInput);
      QVERIFY2(QString(e.what()).contains("refusing to load: the pickle calls " + module + "." + name + ", which would run code"),
               e.what());
    } else {
      // Loads, or fails for another reason (a rebuild function called without its arguments).
      const Error e = load_error(p);
      QVERIFY2(!QString(e.what()).contains("refusing"), e.what());
    }
  }

  void python2_module_names() {
    QCOMPARE(normalise_module("__builtin__"), std::string_view("builtins"));
    QCOMPARE(normalise_module("copy_reg"), std::string_view("copyreg"));
    const Error e = load_error("c__builtin__\neval\n(S'1'\ntR.");
    QVERIFY2(QString(e.what()).contains("builtins.eval"), e.what());
  }
};

QTEST_GUILESS_MAIN(TestPytorchUnpickler)
#include "test_pytorch_unpickler.moc"
