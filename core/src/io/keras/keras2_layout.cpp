// Keras 2 HDF5 weights (keras/saving/hdf5_format.py, save_weights_to_hdf5_group): the weights
// group has the attribute layer_names; each layer is a group with the attribute weight_names, and
// each weight is the dataset <layer>/<weight name>, where the name's slashes make subgroups
// ("dense/kernel:0" is model_weights/dense/dense/kernel:0). Keras 3's legacy .h5 writer adds the
// group top_level_model_weights, outside layer_names.
#include <algorithm>

#include "io/keras/keras_layouts.h"
#include "paramscope/error.h"

namespace paramscope::io::keras {
namespace {

constexpr const char* kTopLevel = "top_level_model_weights";

std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

// Opens group/name and checks it is a dataset; the messages say which list named it.
h5::Handle open_weight(const H5File& f, hid_t group, const std::string& group_path, const std::string& name,
                       const std::string& owner) {
  auto obj = open_object(f, group, name, group_path);
  if (!obj) throw bad_input(f.path(), owner + ": weight_names lists " + q(name) + " but " + join_path(group_path, name) + " does not exist");
  switch (kind_of(obj->get())) {
    case ObjKind::Dataset: return std::move(*obj);
    case ObjKind::Group: throw bad_input(f.path(), owner + ": weight " + q(name) + " is a group, not a dataset");
    default: throw bad_input(f.path(), owner + ": weight " + q(name) + " is not a dataset");
  }
}

void check_unique(const H5File& f, std::vector<std::string> names, const std::string& what) {
  std::sort(names.begin(), names.end());
  if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end())
    throw bad_input(f.path(), what + " lists " + q(*dup) + " twice");
}

std::vector<std::string> weight_list(const H5File& f, hid_t group, const std::string& path) {
  if (auto names = read_string_list(f, group, "weight_names", path)) {
    check_unique(f, *names, path + ": weight_names");
    return std::move(*names);
  }
  return datasets_below(f, group, path);  // attribute missing: every dataset of the group
}

void read_layer(Sink& sink, hid_t group, const std::string& path, const std::string& layer) {
  const H5File& f = *sink.file;
  const std::string owner = "layer " + q(layer);
  for (const auto& w : weight_list(f, group, path)) {
    h5::Handle ds = open_weight(f, group, path, w, owner);
    // Keras 2 names are unique in a model ("dense_1/kernel:0"); a bare or repeated name gets the
    // layer's name in front so that every tensor stays addressable.
    std::string name = w;
    if (w.find('/') == std::string::npos || sink.model_names.count(w)) name = layer + "/" + w;
    sink.add_model(ds.get(), join_path(path, w), std::move(name));
  }
}

}  // namespace

std::size_t read_keras2_weights(Sink& sink, hid_t root, const std::string& root_path) {
  const H5File& f = *sink.file;
  std::vector<std::string> layers;
  const auto listed = read_string_list(f, root, "layer_names", root_path);
  if (listed) {
    layers = *listed;
    check_unique(f, layers, root_path + ": layer_names");
  } else {
    WriteOrder order(f);
    for (const auto& c : order.children(root, root_path))
      if (c.kind == ObjKind::Group && c.name != kTopLevel) layers.push_back(c.name);
  }
  for (const auto& layer : layers) {
    auto g = open_object(f, root, layer, root_path);
    if (!g) throw bad_input(f.path(), "layer_names lists " + q(layer) + " but " + root_path + " has no group of that name");
    if (kind_of(g->get()) != ObjKind::Group) throw bad_input(f.path(), "layer " + q(layer) + " is not a group");
    read_layer(sink, g->get(), join_path(root_path, layer), layer);
  }
  if (std::find(layers.begin(), layers.end(), kTopLevel) == layers.end())
    if (auto g = open_object(f, root, kTopLevel, root_path); g && kind_of(g->get()) == ObjKind::Group)
      read_layer(sink, g->get(), join_path(root_path, kTopLevel), kTopLevel);
  return layers.size();
}

void read_keras2_optimizer(Sink& sink, hid_t group, const std::string& path) {
  const H5File& f = *sink.file;
  for (const auto& w : weight_list(f, group, path)) {
    h5::Handle ds = open_weight(f, group, path, w, "optimizer_weights");
    sink.add_optimizer(ds.get(), join_path(path, w), w);
  }
}

}  // namespace paramscope::io::keras
