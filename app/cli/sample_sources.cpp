#include "sample_sources.h"

#include <filesystem>

#include "paramscope/error.h"
#include "paramscope/images.h"
#include "paramscope/npy.h"

namespace paramscope::cli {
namespace {
namespace fs = std::filesystem;

const engine::ValueInfo& model_input(const engine::Model& m, const std::string& name) {
  for (const auto& v : m.inputs())
    if (name.empty() ? m.inputs().size() == 1 : v.name == name) return v;
  throw usage_error(m.path().string() + (name.empty() ? ": the model has several inputs; pick one with --input-name"
                                                      : ": the model has no input '" + name + "'"));
}

bool is_integer(DType t) {
  return !dtype_info(t).is_float && t != DType::BOOL;
}

Array as_labels(const Array& a, const std::string& source) {
  if (!is_integer(a.type()) || a.rank() == 0)
    throw usage_error(source + ": labels must be integers with one row per sample, not " +
                      std::string(dtype_name(a.type())) + " " + shape_string(a.shape()));
  return a.cast(DType::I64);
}

engine::SampleSet from_array(Array x, std::optional<Array> labels, const engine::ValueInfo& in, std::string source) {
  if (x.type() != in.type) {
    if (!dtype_info(x.type()).is_float || !dtype_info(in.type).is_float)
      throw usage_error(source + ": " + std::string(dtype_name(x.type())) + " samples for the model's " +
                        std::string(dtype_name(in.type)) + " input '" + in.name +
                        "' (convert and scale them first, e.g. x.astype(np.float32) / 255)");
    x = x.cast(in.type);
  }
  if (x.rank() == 0) throw usage_error(source + ": a scalar is not a set of samples");
  engine::SampleSet s;
  s.count = x.dim(0);
  s.labels = std::move(labels);
  s.source = source;
  s.read = [x = std::move(x)](std::int64_t first, std::int64_t n) { return x.rows(first, n); };
  return s;
}

// The image size and channels: the options', else the model input's fixed [N, C, H, W] (or NHWC).
ImageOptions image_options(const SampleOptions& o, const engine::ValueInfo& in) {
  ImageOptions io;
  io.scale = o.scale;
  io.mean = o.mean;
  io.std = o.std;
  io.nhwc = o.nhwc;
  const bool shaped = in.has_shape && in.shape.size() == 4;
  const std::size_t c_axis = o.nhwc ? 3 : 1, h_axis = o.nhwc ? 1 : 2;
  io.channels = o.channels > 0 ? o.channels : shaped && in.shape[c_axis] > 0 ? static_cast<int>(in.shape[c_axis]) : 3;
  if (!o.size.empty()) {
    const auto x = o.size.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument("no x");
      io.height = std::stoll(o.size.substr(0, x));
      io.width = std::stoll(o.size.substr(x + 1));
    } catch (const std::exception&) {
      throw usage_error("--size '" + o.size + "': expected HEIGHTxWIDTH, e.g. 224x224");
    }
  } else if (shaped && in.shape[h_axis] > 0 && in.shape[h_axis + 1] > 0) {
    io.height = in.shape[h_axis];
    io.width = in.shape[h_axis + 1];
  }
  return io;
}

}  // namespace

void add_sample_options(CLI::App& cmd, SampleOptions& o) {
  cmd.add_option("--labels", o.labels,
                 "Integer labels as NPY, one per sample (default: from the NPZ or class folders); 'predicted': the "
                 "model's own argmax");
  cmd.add_option("--input-name", o.input_name, "The model input the samples feed (default: its only input)");
  cmd.add_option("--output-name", o.output_name, "The model output with the class scores (default: the first)");
  cmd.add_option("--scores", o.scores, "What that output holds: logits, probs or log-probs")
      ->check(CLI::IsMember({"logits", "probs", "log-probs"}));
  cmd.add_option("--batch", o.batch, "Samples per pass")->check(CLI::PositiveNumber);
  add_image_options(cmd, o);
}

void add_image_options(CLI::App& cmd, SampleOptions& o) {
  cmd.add_option("--limit", o.limit, "Use only the first N samples")->check(CLI::PositiveNumber);
  cmd.add_option("--size", o.size, "Images: resize to HxW (default: the model input's size)");
  cmd.add_option("--channels", o.channels, "Images: 1 (grey) or 3 (RGB) (default: the model input's)")
      ->check(CLI::IsMember({1, 3}));
  cmd.add_option("--scale", o.scale, "Images: factor on 0..255 values (default 1/255)");
  cmd.add_option("--mean", o.mean, "Images: per-channel mean subtracted after scaling");
  cmd.add_option("--std", o.std, "Images: per-channel standard deviation divided by");
  cmd.add_flag("--nhwc", o.nhwc, "Images: the model takes [N, H, W, C] rather than [N, C, H, W]");
}

engine::ClassifierOptions classifier_options(const SampleOptions& o, std::int64_t default_batch) {
  engine::ClassifierOptions c;
  c.input = o.input_name;
  c.output = o.output_name;
  c.kind = o.scores == "probs"       ? engine::OutputKind::Probabilities
           : o.scores == "log-probs" ? engine::OutputKind::LogProbabilities
                                     : engine::OutputKind::Logits;
  c.batch = o.batch > 0 ? o.batch : default_batch;
  return c;
}

engine::SampleSet open_samples(const SampleOptions& o, const engine::Model& model) {
  const engine::ValueInfo& in = model_input(model, o.input_name);
  const fs::path path(o.data);
  std::optional<Array> labels;
  const bool predicted = o.labels == "predicted";
  if (!o.labels.empty() && !predicted) labels = as_labels(read_npy(o.labels), o.labels);
  engine::SampleSet s;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (in.type != DType::F32) throw usage_error(o.data + ": images need an F32 model input");
    auto folder = std::make_shared<ImageFolder>(path, image_options(o, in));
    s.count = folder->size();
    s.labels = labels ? labels : folder->labels();
    s.source = o.data;
    s.read = [folder](std::int64_t first, std::int64_t n) { return folder->batch(first, n); };
  } else if (path.extension() == ".npz") {
    auto members = read_npz(path);
    const Array* x = nullptr;
    for (const char* key : {in.name.c_str(), "x", "inputs", "input", "images", "data"})
      for (const auto& [name, a] : members)
        if (!x && name == key) x = &a;
    if (!x) {
      std::string names;
      for (const auto& [name, a] : members) names += (names.empty() ? "" : ", ") + name;
      throw usage_error(o.data + ": no member named '" + in.name + "', x, inputs, images or data (it holds " + names +
                        ")");
    }
    for (const char* key : {"labels", "label", "y", "targets"})
      for (const auto& [name, a] : members)
        if (!labels && name == key) labels = as_labels(a, o.data + ":" + name);
    s = from_array(*x, labels, in, o.data);
  } else {
    s = from_array(read_npy(path), labels, in, o.data);
  }
  if (predicted) s.labels.reset();
  if (s.labels && (s.labels->dim(0) != s.count))
    throw usage_error((o.labels.empty() ? o.data : o.labels) + ": " + std::to_string(s.labels->dim(0)) +
                      " labels for " + std::to_string(s.count) + " samples");
  if (o.limit > 0 && o.limit < s.count) {
    s.count = o.limit;
    if (s.labels) s.labels = s.labels->rows(0, o.limit);
  }
  return s;
}

Array read_samples(const SampleOptions& o, const engine::Model& model) {
  const engine::ValueInfo& in = model_input(model, o.input_name);
  const fs::path path(o.data);
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && path.extension() != ".npy" && path.extension() != ".npz") {
    // One image file: a batch of one.
    if (in.type != DType::F32) throw usage_error(o.data + ": images need an F32 model input");
    Array image = read_image(path, image_options(o, in));
    std::vector<std::int64_t> shape{1};
    shape.insert(shape.end(), image.shape().begin(), image.shape().end());
    return image.reshaped(std::move(shape));
  }
  if (path.extension() == ".npy" && in.has_shape) {
    Array x = read_npy(path);
    if (x.rank() + 1 == in.shape.size()) {  // one sample without its batch axis
      std::vector<std::int64_t> shape{1};
      shape.insert(shape.end(), x.shape().begin(), x.shape().end());
      return from_array(x.reshaped(std::move(shape)), std::nullopt, in, o.data).read(0, 1);
    }
  }
  SampleOptions unlabelled = o;
  unlabelled.labels = "predicted";
  const engine::SampleSet s = open_samples(unlabelled, model);
  return s.read(0, s.count);
}

}  // namespace paramscope::cli
