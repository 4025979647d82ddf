#include "io/keras/h5_dataset.h"
#include "io/keras/keras_layouts.h"
#include "io/keras/keras_names.h"
#include "paramscope/error.h"

namespace paramscope::io::keras {
namespace {

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxDatasets = 10'000'000;
constexpr std::size_t kMaxGroupVisits = 1'000'000;  // hard links can make a small file a huge tree

struct Walk {
  explicit Walk(const H5File& f) : order(f) {}
  WriteOrder order;
  std::set<std::uint64_t> visiting;  // groups on the current path
  std::size_t group_visits = 0;
};

void collect(const H5File& f, hid_t group, const std::string& path, const std::string& rel, int depth,
             Walk& walk, std::vector<std::string>& out) {
  if (depth > kMaxDepth) throw bad_input(f.path(), path + ": groups nest deeper than " + std::to_string(kMaxDepth) + " levels");
  for (const auto& c : walk.order.children(group, path)) {
    const std::string child_rel = rel.empty() ? c.name : rel + "/" + c.name;
    if (c.kind == ObjKind::Dataset) {
      if (out.size() >= kMaxDatasets) throw bad_input(f.path(), "more than " + std::to_string(kMaxDatasets) + " datasets");
      out.push_back(child_rel);
    } else if (c.kind == ObjKind::Group) {
      // A group linked into its own subtree would be walked forever.
      if (!walk.visiting.insert(c.addr).second)
        throw bad_input(f.path(), join_path(path, c.name) + ": group links back to one of its parents");
      if (++walk.group_visits > kMaxGroupVisits) throw bad_input(f.path(), "more than " + std::to_string(kMaxGroupVisits) + " groups");
      auto g = open_object(f, group, c.name, path);
      if (g) collect(f, g->get(), join_path(path, c.name), child_rel, depth + 1, walk, out);
      walk.visiting.erase(c.addr);
    }
  }
}

}  // namespace

std::string join_path(const std::string& parent, std::string_view child) {
  if (parent.empty() || parent == "/") return "/" + std::string(child);
  return parent + "/" + std::string(child);
}

std::vector<std::string> datasets_below(const H5File& f, hid_t group, const std::string& path) {
  std::vector<std::string> out;
  Walk walk(f);
  collect(f, group, path, "", 0, walk, out);
  return out;
}

void Sink::add_model(hid_t ds, const std::string& path, std::string name) {
  auto t = describe_dataset(file, ds, path);
  const TensorRole role = role_of(name);
  model_names.insert(name);
  builder.add_tensor(Tensor(std::move(name), t.dtype, std::move(t.shape), std::move(t.source), role));
  ++tensors;
}

void Sink::add_optimizer(hid_t ds, const std::string& path, std::string name) {
  auto t = describe_dataset(file, ds, path);
  builder.add_optimizer_tensor(Tensor(std::move(name), t.dtype, std::move(t.shape), std::move(t.source)));
  ++optimizer_tensors;
}

void read_all_datasets(Sink& sink, hid_t root) {
  const H5File& f = *sink.file;
  for (const auto& rel : datasets_below(f, root, "/")) {
    auto ds = open_object(f, root, rel, "/");
    if (!ds) throw bad_input(f.path(), "dataset '/" + rel + "' disappeared while listing");
    sink.add_model(ds->get(), "/" + rel, rel);
  }
}

}  // namespace paramscope::io::keras
