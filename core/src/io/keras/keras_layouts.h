// The group layouts Keras writes, turned into tensors: Keras 2 (layer_names / weight_names
// attributes, tf.keras and Keras 3's legacy .h5), Keras 3 (layers/<name>/vars/<index>), and any
// other HDF5 file (every dataset, named by its path).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "io/checkpoint_builder.h"
#include "io/keras/h5_file.h"

namespace paramscope::io::keras {

/// What the layouts add tensors to.
struct Sink {
  std::shared_ptr<H5File> file;
  CheckpointBuilder& builder;
  std::set<std::string> model_names;  ///< names given so far, to keep model tensor names unique
  std::size_t tensors = 0;
  std::size_t optimizer_tensors = 0;

  /// Adds the dataset at HDF5 path `path` (absolute, "/model_weights/dense/dense/kernel:0").
  void add_model(hid_t ds, const std::string& path, std::string name);
  void add_optimizer(hid_t ds, const std::string& path, std::string name);
};

/// "/a/b" + "c" -> "/a/b/c" (the root is "/").
std::string join_path(const std::string& parent, std::string_view child);

/// Paths (relative to group) of the datasets below it, depth-first in creation order.
/// throws Error(BadInput) for hard-link cycles or groups nested deeper than 64 levels.
std::vector<std::string> datasets_below(const H5File& f, hid_t group, const std::string& path);

/// Keras 2 weights under `root` ("/" for save_weights, "/model_weights" for save): layers in
/// layer_names order, weights in weight_names order; groups are walked where attributes are
/// missing. Returns the number of layers found.
std::size_t read_keras2_weights(Sink& sink, hid_t root, const std::string& root_path);

/// Keras 2 optimizer_weights: weight_names order, else walked.
void read_keras2_optimizer(Sink& sink, hid_t group, const std::string& path);

/// Keras 3 .weights.h5 (and the model.weights.h5 of a .keras archive) from the root group.
/// Returns the number of top-level layers.
std::size_t read_keras3_weights(Sink& sink, hid_t root);

/// Any HDF5 file: every dataset, depth-first in creation order, named by its path without the
/// leading '/'.
void read_all_datasets(Sink& sink, hid_t root);

}  // namespace paramscope::io::keras
