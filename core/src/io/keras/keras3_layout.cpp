// Keras 3 weights (keras/src/saving/saving_lib.py): every saveable object is a group holding a
// group "vars" with datasets "0", "1", ... (save_own_variables). A model's own variables are /vars,
// its layers /layers/<entry> where the entry is the snake_case class name with _1, _2 suffixes,
// nested models repeat the pattern (/layers/functional/layers/dense/vars/0), other attributes of
// a layer are subgroups by attribute name (/layers/lstm/cell/vars/0), and the optimizer is
// /optimizer/vars/N. Keras 2.13-2.15 wrote _layer_checkpoint_dependencies instead of layers.
#include <algorithm>
#include <cctype>

#include "io/keras/keras_layouts.h"
#include "io/keras/keras_names.h"
#include "paramscope/error.h"

namespace paramscope::io::keras {
namespace {

constexpr int kMaxDepth = 64;

enum class Section { Model, Apart };

bool is_container(std::string_view name) { return name == "layers" || name == "_layer_checkpoint_dependencies"; }

// Training state the model object also saves; like the optimizer it is not part of the model.
bool is_training_state(std::string_view name) {
  return name == "optimizer" || name == "_loss_tracker" || name == "loss_tracker" || name == "_compile_metrics" ||
         name == "compile_metrics" || name == "_compile_loss" || name == "compile_loss" || name == "metrics" ||
         name == "_metrics";
}

bool is_index(std::string_view s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::string joined(const std::vector<std::string>& parts, std::string_view leaf) {
  std::string s;
  for (const auto& p : parts) s += p + "/";
  return s + std::string(leaf);
}

class Walker {
public:
  explicit Walker(Sink& sink) : sink_(sink), f_(*sink.file), order_(f_) {}

  void group(hid_t g, const std::string& path, std::vector<std::string>& parts, Section section, int depth) {
    if (depth > kMaxDepth) throw bad_input(f_.path(), path + ": groups nest deeper than " + std::to_string(kMaxDepth) + " levels");
    const auto kids = order_.children(g, path);
    // The object's own variables come before its children's, as Keras saves them.
    for (const auto& c : kids)
      if (c.name == "vars" && c.kind == ObjKind::Group) vars(g, path, parts, section);
    for (const auto& c : kids) {
      if (c.name == "vars" && c.kind == ObjKind::Group) continue;
      auto obj = open_object(f_, g, c.name, path);
      if (!obj) continue;
      const std::string child_path = join_path(path, c.name);
      if (c.kind == ObjKind::Dataset) {
        add(obj->get(), child_path, joined(parts, c.name), section);
      } else if (c.kind == ObjKind::Group) {
        if (!visiting_.insert(c.addr).second) throw bad_input(f_.path(), child_path + ": group links back to one of its parents");
        const Section s = depth == 0 && is_training_state(c.name) ? Section::Apart : section;
        const bool named = !is_container(c.name);
        if (named) parts.push_back(c.name);
        group(obj->get(), child_path, parts, s, depth + 1);
        if (named) parts.pop_back();
        visiting_.erase(c.addr);
      }
    }
  }

private:
  void vars(hid_t owner, const std::string& owner_path, const std::vector<std::string>& parts, Section section) {
    const std::string path = join_path(owner_path, "vars");
    auto g = open_object(f_, owner, "vars", owner_path);
    if (!g) return;
    auto kids = children(f_, g->get(), path);
    // "10" sorts after "9": indices by value, then any named entries in creation order.
    std::stable_sort(kids.begin(), kids.end(), [](const Child& a, const Child& b) {
      const bool ia = is_index(a.name), ib = is_index(b.name);
      if (ia != ib) return ia;
      return ia && std::stoul(a.name) < std::stoul(b.name);
    });
    std::size_t indices = 0;
    for (const auto& c : kids)
      if (is_index(c.name) && std::stoul(c.name) == indices) ++indices;
    const bool dense_indices = indices == kids.size();
    std::vector<std::string_view> names;
    if (dense_indices && !parts.empty()) names = variable_names(parts.back(), kids.size());

    for (std::size_t i = 0; i < kids.size(); ++i) {
      const auto& c = kids[i];
      if (c.kind != ObjKind::Dataset)
        throw bad_input(f_.path(), join_path(path, c.name) + " is not a dataset (Keras stores variables as datasets)");
      auto ds = open_object(f_, g->get(), c.name, path);
      if (!ds) continue;
      std::string leaf = !names.empty() ? std::string(names[i]) : is_index(c.name) ? "vars/" + c.name : c.name;
      add(ds->get(), join_path(path, c.name), joined(parts, leaf), section);
    }
  }

  void add(hid_t ds, const std::string& path, std::string name, Section section) {
    if (section == Section::Apart) sink_.add_optimizer(ds, path, path.substr(1));  // "optimizer/vars/0"
    else sink_.add_model(ds, path, std::move(name));
  }

  Sink& sink_;
  const H5File& f_;
  WriteOrder order_;
  std::set<std::uint64_t> visiting_;
};

}  // namespace

std::size_t read_keras3_weights(Sink& sink, hid_t root) {
  std::vector<std::string> parts;
  Walker(sink).group(root, "/", parts, Section::Model, 0);
  // Top-level layers: the entries of the layers container, or a subclassed model's attributes.
  std::size_t layers = 0;
  bool container = false;
  for (const auto& c : children(*sink.file, root, "/"))
    if (c.kind == ObjKind::Group && is_container(c.name))
      if (auto g = open_object(*sink.file, root, c.name, "/")) {
        container = true;
        for (const auto& l : children(*sink.file, g->get(), "/" + c.name)) layers += l.kind == ObjKind::Group;
      }
  if (!container)
    for (const auto& c : children(*sink.file, root, "/"))
      layers += c.kind == ObjKind::Group && c.name != "vars" && !is_training_state(c.name);
  return layers;
}

}  // namespace paramscope::io::keras
