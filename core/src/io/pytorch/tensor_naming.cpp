#include "io/pytorch/tensor_naming.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "util/printable.h"
#include "paramscope/error.h"

namespace paramscope::io::pytorch {
namespace {

// Keys under which training scripts keep the model's state dict (or the module itself).
constexpr std::array<std::string_view, 8> kModelKeys = {
    "model", "state_dict", "model_state_dict", "module", "net", "ema", "network", "model_state",
};
// Keys under which they keep optimizer state.
constexpr std::array<std::string_view, 7> kOptimizerKeys = {
    "optimizer", "optimizer_state_dict", "optim", "optimizers", "optimizer_states", "optimizer_state", "opt",
};
constexpr std::size_t kMaxNameLength = 4096;
constexpr std::size_t kMaxRootMetadata = 64;

bool contains(std::span<const std::string_view> list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool is_container(const Value* v) {
  return v->is(Kind::Dict) || v->is(Kind::List) || v->is(Kind::Tuple) || v->is(Kind::Object);
}

// torch.optim.Optimizer.state_dict(): {"state": {...}, "param_groups": [...]}.
bool is_optimizer_dict(const Value* v) {
  return v->is(Kind::Dict) && v->get("state") && v->get("param_groups");
}

// An nn.Module's pickled __dict__ (the BUILD state of its NEWOBJ), or nullptr.
const Value* module_state(const Value* v) {
  if (!v->is(Kind::Object) || !v->state) return nullptr;
  const Value* s = v->state;
  if (s->is(Kind::Tuple) && !s->items.empty()) s = s->items[0];  // (dict, slots)
  if (!s->is(Kind::Dict)) return nullptr;
  return s->get("_parameters") && s->get("_modules") ? s : nullptr;
}

// A dict key as a name component: strings exactly as stored (names are data, and may be long),
// other scalars as Python prints them, anything else by position.
std::string key_text(const Value* k, std::size_t index) {
  switch (k->kind) {
    case Kind::Str:
    case Kind::Bytes: return k->text;
    case Kind::Int:
    case Kind::BigInt:
    case Kind::Bool:
    case Kind::None:
    case Kind::Float:
    case Kind::Global: return scalar_text(*k);
    default: return "[" + std::to_string(index) + "]";
  }
}

// A Dict's entries as Python sees them: a key stored twice keeps its first position and its last value.
std::vector<std::pair<std::string, const Value*>> dict_entries(const Value* d) {
  std::vector<std::pair<std::string, const Value*>> out;
  out.reserve(d->dict_size());
  std::unordered_map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < d->dict_size(); ++i) {
    std::string k = key_text(d->key(i), i);
    auto [it, fresh] = seen.emplace(k, out.size());
    if (fresh) out.emplace_back(std::move(k), d->value(i));
    else out[it->second].second = d->value(i);
  }
  return out;
}

class Walker {
public:
  Walker(const std::vector<TensorRecord>& tensors, const std::filesystem::path& file, std::size_t max_visits)
      : tensors_(tensors), file_(file), max_visits_(max_visits) {}

  void walk(const Value* v, const std::string& path, bool optimizer, int depth) {
    enter(path, depth);
    switch (v->kind) {
      case Kind::Tensor: emit(v, path.empty() ? "tensor" : path, optimizer ? TensorRole::Optimizer : TensorRole::Parameter); break;
      case Kind::Dict: guarded(v, [&] { walk_dict(v, path, optimizer || is_optimizer_dict(v), depth); }); break;
      case Kind::List:
      case Kind::Tuple:
        guarded(v, [&] {
          for (std::size_t i = 0; i < v->items.size(); ++i) walk(v->items[i], join(path, std::to_string(i)), optimizer, depth + 1);
        });
        break;
      case Kind::Object:
        guarded(v, [&] {
          if (module_state(v)) {
            if (!optimizer) {
              out.metadata.emplace_back(modules_seen_++ == 0 ? "module_class" : "module_class " + printable(path),
                                        printable(v->text));
              walk_module(v, path.empty() ? "" : path + ".", depth);
            }
            return;
          }
          // Any other object: its attributes, dict entries and list items, by name.
          if (v->state) {
            const Value* s = v->state;
            if (s->is(Kind::Dict)) walk_dict(s, path, optimizer, depth);
            else if (s->is(Kind::Tuple))
              for (const Value* part : s->items)
                if (part->is(Kind::Dict)) walk_dict(part, path, optimizer, depth);
          }
          if (v->dict) walk_dict(v->dict, path, optimizer, depth);
          for (std::size_t i = 0; i < v->items.size(); ++i) walk(v->items[i], join(path, std::to_string(i)), optimizer, depth + 1);
        });
        break;
      default: break;
    }
  }

  FoundTensors out;

private:
  void enter(const std::string& path, int depth) {
    if (depth > kMaxDepth)
      throw bad_input(file_, "objects nest deeper than " + std::to_string(kMaxDepth) + " levels (at '" +
                                 printable(path, 100) + "')");
    if (++visits_ > max_visits_)
      throw bad_input(file_, "the pickled objects take more than " + std::to_string(max_visits_) +
                                 " steps to walk (shared references multiply them)");
    if (path.size() > kMaxNameLength)
      throw bad_input(file_, "key path longer than " + std::to_string(kMaxNameLength) + " bytes: '" +
                                 printable(path, 100) + "'");
  }

  // Cycles are legal in pickles (an object that refers to its parent): walk each container once
  // per path, so a cycle ends where it closes.
  template <class F>
  void guarded(const Value* v, F&& f) {
    if (v->visiting) return;
    v->visiting = true;
    f();
    v->visiting = false;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  void walk_dict(const Value* d, const std::string& path, bool optimizer, int depth) {
    for (const auto& [k, val] : dict_entries(d)) {
      const bool opt = optimizer || (contains(kOptimizerKeys, k) && is_container(val));
      walk(val, join(path, k), opt, depth + 1);
    }
  }

  // Names as nn.Module.state_dict() gives them: this module's parameters, then its persistent
  // buffers, then each submodule's, depth first; None entries are skipped.
  void walk_module(const Value* module, const std::string& prefix, int depth) {
    enter(prefix, depth);
    const Value* state = module_state(module);
    if (const Value* params = state->get("_parameters"); params && params->is(Kind::Dict))
      for (const auto& [name, t] : dict_entries(params))
        if (t->is(Kind::Tensor)) emit(t, prefix + name, TensorRole::Parameter);
    std::unordered_set<std::string> non_persistent;
    if (const Value* np = state->get("_non_persistent_buffers_set"); np && (np->is(Kind::Set) || np->is(Kind::List)))
      for (const Value* n : np->items)
        if (n->is_text()) non_persistent.insert(n->text);
    if (const Value* buffers = state->get("_buffers"); buffers && buffers->is(Kind::Dict))
      for (const auto& [name, t] : dict_entries(buffers))
        if (t->is(Kind::Tensor) && !non_persistent.count(name)) emit(t, prefix + name, TensorRole::Buffer);
    if (const Value* modules = state->get("_modules"); modules && modules->is(Kind::Dict)) {
      for (const auto& entry : dict_entries(modules)) {
        const std::string& name = entry.first;  // not a structured binding: clang 14 cannot capture those
        const Value* sub = entry.second;
        if (!sub->is(Kind::Object)) continue;
        guarded(sub, [&] {
          if (module_state(sub)) walk_module(sub, prefix + name + ".", depth + 1);
        });
      }
    }
  }

  void emit(const Value* v, const std::string& name, TensorRole role) {
    const auto index = static_cast<std::size_t>(v->integer);
    const TensorRecord& t = tensors_[index];
    if (!t.unsupported.empty()) {
      out.skipped.emplace_back(name, t.unsupported);
      return;
    }
    (role == TensorRole::Optimizer ? out.optimizer : out.model).push_back({name, index, role});
  }

  const std::vector<TensorRecord>& tensors_;
  const std::filesystem::path& file_;
  std::size_t max_visits_;
  std::size_t visits_ = 0;
  int modules_seen_ = 0;
};

bool is_scalar(const Value* v) {
  return v->is(Kind::Int) || v->is(Kind::BigInt) || v->is(Kind::Float) || v->is(Kind::Bool) || v->is(Kind::Str);
}

}  // namespace

FoundTensors find_tensors(const Value* root, const std::vector<TensorRecord>& tensors, const std::filesystem::path& file,
                          std::size_t value_count) {
  Walker w(tensors, file, std::min(kMaxVisits, 8 * value_count + 100'000));
  if (!root->is(Kind::Dict) || is_optimizer_dict(root)) {
    w.walk(root, "", false, 0);
    return std::move(w.out);
  }

  // A dict at the top: a state dict, or a training checkpoint holding one under "model" & co.
  struct Range {
    std::string key;
    std::size_t begin, end;
    bool candidate;
  };
  std::vector<Range> ranges;
  std::size_t root_metadata = 0;
  root->visiting = true;
  for (const auto& [key, val] : dict_entries(root)) {
    if (is_scalar(val) && root_metadata < kMaxRootMetadata) {
      w.out.metadata.emplace_back(printable(key), scalar_text(*val));
      ++root_metadata;
    }
    const std::size_t begin = w.out.model.size();
    w.walk(val, key, contains(kOptimizerKeys, key) && is_container(val), 1);
    ranges.push_back({key, begin, w.out.model.size(),
                      contains(kModelKeys, key) && is_container(val) && w.out.model.size() > begin});
  }
  root->visiting = false;

  // Exactly one obvious model state dict: its names as the model knows them, without the key.
  // Tensors elsewhere (an EMA copy under another key, a callback's best score) are not part of
  // that model: they keep their key paths and are listed apart, uncounted, like optimizer state.
  const auto n_candidates = std::count_if(ranges.begin(), ranges.end(), [](const Range& r) { return r.candidate; });
  if (n_candidates != 1) return std::move(w.out);
  const Range& r = *std::find_if(ranges.begin(), ranges.end(), [](const Range& x) { return x.candidate; });
  std::vector<NamedTensor> model;
  for (std::size_t i = 0; i < w.out.model.size(); ++i) {
    NamedTensor& t = w.out.model[i];
    if (i >= r.begin && i < r.end) {
      t.name.erase(0, r.key.size() + 1);
      model.push_back(std::move(t));
    } else {
      t.role = TensorRole::Optimizer;
      w.out.optimizer.push_back(std::move(t));
    }
  }
  w.out.model = std::move(model);
  return std::move(w.out);
}

}  // namespace paramscope::io::pytorch
