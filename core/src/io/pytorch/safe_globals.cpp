#include "io/pytorch/safe_globals.h"

#include <algorithm>
#include <array>
#include <string>

namespace paramscope::io::pytorch {
namespace {

bool in_module(std::string_view module, std::string_view root) noexcept {
  return module == root || (module.size() > root.size() && module.starts_with(root) && module[root.size()] == '.');
}

// Whole modules whose members execute code, spawn processes, open files or sockets, import, or
// deserialise further data. "and similar": erring on the side of refusing, as none of them has a
// place in a checkpoint.
constexpr std::array kDangerousModules = {
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "importlib", "imp", "pkgutil", "zipimport",
    "runpy", "code", "codeop", "pty", "tty", "termios", "fcntl", "resource", "signal", "pdb", "bdb", "trace",
    "timeit", "profile", "cProfile", "doctest", "webbrowser", "ctypes", "cffi", "marshal", "pickle", "_pickle",
    "cPickle", "copy", "shelve", "dill", "cloudpickle", "joblib", "yaml", "types", "shutil", "tempfile", "glob",
    "pathlib", "io", "_io", "fileinput", "socket", "ssl", "select", "selectors", "asyncio", "http", "httplib",
    "urllib", "urllib2", "urllib3", "requests", "ftplib", "smtplib", "poplib", "imaplib", "telnetlib", "xmlrpc",
    "multiprocessing", "threading", "_thread", "thread", "concurrent", "platform", "sysconfig", "site",
    "distutils", "setuptools", "pip", "venv", "ensurepip", "commands", "popen2", "gc", "inspect",
    "_posixsubprocess", "_winapi", "msvcrt", "winreg", "sqlite3", "dbm", "logging.config", "atexit", "weakref",
    "torch.hub", "torch.jit", "torch.package", "torch.serialization", "torch._C", "torch.fx", "torch._dynamo",
    "torch._inductor", "torch.utils.cpp_extension", "torch.ops", "torch.classes", "torch.library",
    "torch.multiprocessing", "numpy.f2py", "numpy.distutils", "numpy.ctypeslib", "numpy.testing",
    "numpy.lib.format", "pandas.io",
};

// Single names inside otherwise harmless modules.
constexpr std::array kDangerousNames = {
    "builtins.eval", "builtins.exec", "builtins.execfile", "builtins.compile", "builtins.open", "builtins.file",
    "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.__import__", "builtins.globals",
    "builtins.locals", "builtins.vars", "builtins.input", "builtins.raw_input", "builtins.breakpoint",
    "builtins.exit", "builtins.quit", "builtins.help", "builtins.reload", "builtins.apply", "builtins.type",
    "builtins.memoryview", "builtins.__build_class__", "builtins.__loader__", "builtins.classmethod",
    "builtins.staticmethod", "builtins.property", "builtins.super",
    "functools.partial", "functools.reduce", "functools.partialmethod", "_functools.partial",
    "_functools.reduce", "operator.attrgetter", "operator.methodcaller", "operator.call",
    "_operator.attrgetter", "_operator.methodcaller", "_operator.call", "torch.load", "torch.save",
    "torch.storage._load_from_bytes", "torch.from_file", "torch._load_global_deps", "numpy.load",
    "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "numpy.save", "numpy.savez",
    "numpy.core.memmap", "numpy.lib.npyio.load", "pandas.read_pickle", "pandas.eval", "pandas.core.computation",
    "collections.namedtuple", "string.Formatter", "string.Template",
};

// Harmless names inside refused modules, which real checkpoints contain: TorchScript's list
// builders (they return their argument), the layout lookup sparse tensors pickle (torch.load's
// weights_only allows it too), and value classes of saved hyperparameters (paths, namespaces).
// Only these exact names: "Path.write_text" (protocol 4 reaches methods) stays refused.
constexpr std::array kHarmlessExceptions = {
    "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_genericlist", "torch.jit._pickle.restore_type_tag",
    "torch.serialization._get_layout", "types.SimpleNamespace", "pathlib.Path", "pathlib.PosixPath",
    "pathlib.WindowsPath", "pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
};

}  // namespace

std::string_view normalise_module(std::string_view module) noexcept {
  if (module == "__builtin__" || module == "exceptions") return "builtins";
  if (module == "copy_reg") return "copyreg";
  if (module == "UserDict" || module == "UserList" || module == "UserString") return "collections";
  return module;
}

bool is_dangerous_global(std::string_view module, std::string_view name) {
  for (std::string_view ok : kHarmlessExceptions) {
    const auto dot = ok.rfind('.');
    if (module == ok.substr(0, dot) && name == ok.substr(dot + 1)) return false;
  }
  // Protocol 4 resolves a dotted name attribute by attribute, so "torch" + "os.system" reaches
  // os.system: check the full path and every tail that starts inside the name (a module's own
  // path is imported whole, so "mypkg.io" is not "io"). Dunder attributes lead into interpreter
  // internals and are refused too.
  std::string full;
  full.reserve(module.size() + 1 + name.size());
  full.append(module).append(".").append(name);
  for (std::size_t start = 0; start != std::string::npos;) {
    const std::string_view tail = std::string_view(full).substr(start);
    for (std::string_view m : kDangerousModules)
      if (in_module(tail, m)) return true;
    for (std::string_view q : kDangerousNames)
      if (tail == q) return true;
    const auto dot = full.find('.', std::max(start, module.size()));
    start = dot == std::string::npos ? dot : dot + 1;
  }
  for (std::size_t begin = 0; begin <= name.size();) {
    const auto end = std::min(name.find('.', begin), name.size());
    const std::string_view part = name.substr(begin, end - begin);
    if (part.size() > 4 && part.starts_with("__") && part.ends_with("__") && part != "__newobj__" &&
        part != "__newobj_ex__")
      return true;
    begin = end + 1;
  }
  return false;
}

}  // namespace paramscope::io::pytorch
