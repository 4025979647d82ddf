#include "io/keras/keras_config.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

namespace paramscope::io::keras {
using nlohmann::json;

namespace {

constexpr int kMaxDepth = 256;  // functional configs nest deeply, but not this deep
constexpr std::size_t kMaxClassesListed = 24;

struct TooDeep {};

std::optional<json> parse(std::string_view text) {
  try {
    return json::parse(text.begin(), text.end(), [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

std::optional<std::string> string_at(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// "Adam (learning_rate 0.001)" from {"class_name": "Adam", "config": {"learning_rate": 0.001}},
// or the string itself ("adam") when compiled by name.
std::optional<std::string> describe_object(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  auto cls = string_at(j, "class_name");
  if (!cls) return std::nullopt;
  if (auto cfg = j.find("config"); cfg != j.end() && cfg->is_object())
    if (auto lr = cfg->find("learning_rate"); lr != cfg->end() && lr->is_number())
      return *cls + " (learning_rate " + lr->dump() + ")";
  return cls;
}

void add_layers(const json& layers, Metadata& out) {
  if (!layers.is_array()) return;
  std::vector<std::pair<std::string, int>> counts;  // class, count: in order of first appearance
  std::size_t total = 0;
  for (const auto& layer : layers) {
    auto cls = string_at(layer, "class_name");
    if (cls && *cls == "InputLayer") continue;  // Keras lists the input; it holds no weights
    ++total;
    const std::string name = cls.value_or("?");
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == name; });
    if (it == counts.end()) counts.emplace_back(name, 1);
    else ++it->second;
  }
  out.emplace_back("layer_count", std::to_string(total));
  std::string classes;
  for (std::size_t i = 0; i < counts.size() && i < kMaxClassesListed; ++i) {
    if (!classes.empty()) classes += ", ";
    classes += counts[i].first;
    if (counts[i].second > 1) classes += " x" + std::to_string(counts[i].second);
  }
  if (counts.size() > kMaxClassesListed) classes += ", ... (" + std::to_string(counts.size()) + " classes)";
  if (!classes.empty()) out.emplace_back("layer_classes", classes);
}

void add_compile(const json& j, Metadata& out) {
  if (!j.is_object()) return;
  for (const char* key : {"optimizer_config", "optimizer"})
    if (auto it = j.find(key); it != j.end())
      if (auto d = describe_object(*it)) {
        out.emplace_back("optimizer", *d);
        break;
      }
  if (auto it = j.find("loss"); it != j.end())
    if (auto d = describe_object(*it)) out.emplace_back("loss", *d);
}

}  // namespace

void summarise_model_config(std::string_view text, std::string_view key, Metadata& out) {
  const auto j = parse(text);
  if (!j || !j->is_object()) {
    out.emplace_back(std::string(key), "not valid JSON");
    return;
  }
  if (auto cls = string_at(*j, "class_name")) out.emplace_back("model_class", *cls);
  if (auto cfg = j->find("config"); cfg != j->end()) {
    if (auto name = string_at(*cfg, "name")) out.emplace_back("model_name", *name);
    // Keras before 2.2.3 saved a Sequential's config as the bare list of layers.
    if (cfg->is_array()) add_layers(*cfg, out);
    else if (cfg->is_object())
      if (auto layers = cfg->find("layers"); layers != cfg->end()) add_layers(*layers, out);
  }
  if (auto cc = j->find("compile_config"); cc != j->end()) add_compile(*cc, out);
}

void summarise_training_config(std::string_view text, Metadata& out) {
  const auto j = parse(text);
  if (!j || !j->is_object()) {
    out.emplace_back("training_config", "not valid JSON");
    return;
  }
  add_compile(*j, out);
}

void summarise_archive_metadata(std::string_view text, Metadata& out) {
  const auto j = parse(text);
  if (!j || !j->is_object()) {
    out.emplace_back("metadata.json", "not valid JSON");
    return;
  }
  for (const char* key : {"keras_version", "date_saved"})
    if (auto v = string_at(*j, key)) out.emplace_back(key, *v);
}

}  // namespace paramscope::io::keras
