#include "paramscope/map_io.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "paramscope/error.h"

namespace paramscope {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

std::string params_json(const std::map<std::string, std::string>& params) {
  ordered_json j = ordered_json::object();
  for (const auto& [k, v] : params) j[k] = v;
  return j.dump();
}

Hdf5Attribute text(std::string name, std::string value) {
  return {std::move(name), std::move(value), 0, false};
}
Hdf5Attribute number(std::string name, double value) {
  return {std::move(name), {}, value, true};
}

// The element scores of tensor i as float32 bytes, computed in parallel chunks on the pool.
TensorToWrite scores_to_write(const ScoreField& field, std::size_t i, ThreadPool& pool, ProgressTracker& progress) {
  const auto& t = field.tensors()[i];
  return {t.name, DType::F32, t.shape,
          [&field, i, &pool, &progress](std::uint64_t byte_offset, std::span<std::byte> out) {
            const auto first = static_cast<std::int64_t>(byte_offset / 4);
            const std::size_t n = out.size() / 4;
            constexpr std::size_t kSub = 1 << 16;
            pool.parallel_for((n + kSub - 1) / kSub, 1, [&](std::size_t b, std::size_t e) {
              thread_local std::vector<float> buf;
              for (std::size_t k = b; k < e; ++k) {
                const std::size_t m = std::min(kSub, n - k * kSub);
                buf.resize(m);
                const auto at = first + static_cast<std::int64_t>(k * kSub);
                field.scores(i, at, buf);
                field.release(i, at, static_cast<std::int64_t>(m));
                std::memcpy(out.data() + k * kSub * 4, buf.data(), m * 4);
                progress.advance(m);
              }
            });
          }};
}

std::string csv_number(double v) {
  return std::isnan(v) ? std::string() : fmt::format("{:.9g}", v);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

ordered_json number_json(double v) {
  return std::isnan(v) ? ordered_json(nullptr) : ordered_json(v);
}

}  // namespace

std::string file_name_for(const std::string& name) {
  std::string f;
  for (char c : name) f += (c == '/' || c == '\\' || c == '\0') ? '_' : c;
  if (f.empty() || f == "." || f == "..") f = "_" + f;
  return f;
}

MapProvenance provenance_of(const Checkpoint& c, const std::string& criterion, Granularity g, Reduction r,
                            const CriterionInputs& in) {
  MapProvenance p{criterion, g, r, in.params, c.path(), 0, {}, {}, {}};
  for (const auto& f : c.files()) {
    std::error_code ec;
    const auto n = fs::file_size(f, ec);
    if (!ec) p.source_bytes += n;
  }
  if (in.base) p.base = in.base->path().string();
  if (in.stats) p.stats = in.stats->path().string();
  if (in.contrast_stats) p.contrast_stats = in.contrast_stats->path().string();
  return p;
}

std::vector<Hdf5Attribute> provenance_attributes(const MapProvenance& p) {
  std::vector<Hdf5Attribute> a = {text("criterion", p.criterion),
                                  text("granularity", std::string(granularity_name(p.granularity))),
                                  text("reduction", std::string(reduction_name(p.reduction))),
                                  text("parameters", params_json(p.params)),
                                  text("source", p.source.string()),
                                  number("source_bytes", static_cast<double>(p.source_bytes)),
                                  text("producer", "ParamScope 0.1.0")};
  if (!p.base.empty()) a.push_back(text("base", p.base));
  if (!p.stats.empty()) a.push_back(text("stats", p.stats));
  if (!p.contrast_stats.empty()) a.push_back(text("contrast_stats", p.contrast_stats));
  return a;
}

void write_element_maps_hdf5(const fs::path& path, const ScoreField& field, const MapProvenance& prov, ThreadPool& pool,
                             const JobControl& control) {
  ProgressTracker progress(control, field.elements());
  std::vector<Hdf5Dataset> datasets;
  const auto attrs = provenance_attributes(prov);
  for (std::size_t i = 0; i < field.size(); ++i)
    datasets.push_back({field.tensors()[i].name,
                        scores_to_write(field, i, pool, progress),
                        {text("tensor", field.tensors()[i].name)}});
  write_hdf5(path, datasets, attrs);
  progress.finish();
}

void write_element_maps_npy(const fs::path& path, const ScoreField& field, const MapProvenance& prov, ThreadPool& pool,
                            const JobControl& control) {
  ProgressTracker progress(control, field.elements());
  if (path.extension() == ".npy") {
    if (field.size() != 1)
      throw usage_error(path.string() + ": one .npy file holds one map, but " + std::to_string(field.size()) +
                        " tensors are scored (give a folder instead)");
    write_npy(path, scores_to_write(field, 0, pool, progress));
    progress.finish();
    return;
  }
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw io_error(path, "cannot create folder: " + ec.message());
  ordered_json index = ordered_json::object();
  index["criterion"] = prov.criterion;
  index["granularity"] = granularity_name(prov.granularity);
  index["source"] = prov.source.string();
  ordered_json files = ordered_json::object();
  for (std::size_t i = 0; i < field.size(); ++i) {
    const std::string f = file_name_for(field.tensors()[i].name) + ".npy";
    write_npy(path / f, scores_to_write(field, i, pool, progress));
    files[field.tensors()[i].name] = f;
  }
  index["files"] = std::move(files);
  write_text_file(path / "index.json", index.dump(2) + "\n");
  progress.finish();
}

void write_reduced_maps_hdf5(const fs::path& path, const ReducedMaps& maps, const MapProvenance& prov) {
  std::vector<Hdf5Dataset> datasets;
  for (const auto& m : maps.maps) {
    std::vector<Hdf5Attribute> attrs = {text("tensor", m.name)};
    for (const auto& [k, v] : m.metrics) attrs.push_back(number(k, v));
    datasets.push_back({m.name, TensorToWrite::from_floats(m.name, DType::F32, m.shape, m.values), std::move(attrs)});
  }
  for (const auto& m : maps.maps) {
    if (m.spectrum.empty()) continue;
    datasets.push_back({"spectrum/" + m.name,
                        TensorToWrite::from_bytes(m.name, DType::F64, {static_cast<std::int64_t>(m.spectrum.size())},
                                                  std::as_bytes(std::span(m.spectrum))),
                        {text("tensor", m.name), text("what", "singular values, descending")}});
  }
  std::vector<float> block_values;
  block_values.reserve(maps.blocks.size());
  for (const auto& b : maps.blocks) block_values.push_back(static_cast<float>(b.value(maps.reduction)));
  for (std::size_t k = 0; k < maps.blocks.size(); ++k)
    datasets.push_back(
        {"blocks/" + (maps.blocks[k].name.empty() ? std::string("(top level)") : maps.blocks[k].name),
         TensorToWrite::from_floats("block", DType::F32, {}, std::span<const float>(&block_values[k], 1)),
         {number("elements", static_cast<double>(maps.blocks[k].count))}});
  write_hdf5(path, datasets, provenance_attributes(prov));
}

void write_reduced_maps_npy(const fs::path& path, const ReducedMaps& maps, const MapProvenance& prov) {
  if (path.extension() == ".npy") {
    if (maps.maps.size() != 1)
      throw usage_error(path.string() + ": one .npy file holds one map, but there are " +
                        std::to_string(maps.maps.size()) + " (give a folder instead)");
    const auto& m = maps.maps.front();
    write_npy(path, TensorToWrite::from_floats(m.name, DType::F32, m.shape, m.values));
    return;
  }
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw io_error(path, "cannot create folder: " + ec.message());
  ordered_json files = ordered_json::object();
  for (const auto& m : maps.maps) {
    const std::string f = file_name_for(m.name) + ".npy";
    write_npy(path / f, TensorToWrite::from_floats(m.name, DType::F32, m.shape, m.values));
    files[m.name] = f;
  }
  ordered_json index = ordered_json::object();
  index["criterion"] = prov.criterion;
  index["granularity"] = granularity_name(prov.granularity);
  index["reduction"] = reduction_name(prov.reduction);
  index["source"] = prov.source.string();
  index["files"] = std::move(files);
  write_text_file(path / "index.json", index.dump(2) + "\n");
}

std::string summary_json(const ReducedMaps& maps, const MapProvenance& prov) {
  ordered_json j;
  j["criterion"] = prov.criterion;
  j["granularity"] = granularity_name(prov.granularity);
  j["reduction"] = reduction_name(prov.reduction);
  ordered_json params = ordered_json::object();
  for (const auto& [k, v] : prov.params) params[k] = v;
  j["parameters"] = std::move(params);
  j["source"] = prov.source.string();
  if (!prov.base.empty()) j["base"] = prov.base;
  if (!prov.stats.empty()) j["stats"] = prov.stats;
  auto entry = [&](const ScoreSummary& s) {
    ordered_json e;
    e["name"] = s.name;
    if (!s.block.empty() || !s.kind.empty()) {
      e["block"] = s.block;
      e["kind"] = s.kind;
    }
    e["count"] = s.count;
    e["sum"] = number_json(s.sum);
    e["mean"] = number_json(s.mean);
    e["max"] = number_json(s.max);
    e["l2"] = number_json(s.l2);
    e["value"] = number_json(s.value(maps.reduction));
    return e;
  };
  ordered_json tensors = ordered_json::array();
  for (std::size_t k = 0; k < maps.tensors.size(); ++k) {
    auto e = entry(maps.tensors[k]);
    for (const auto& m : maps.maps)
      if (m.name == maps.tensors[k].name && !m.metrics.empty()) {
        ordered_json metrics = ordered_json::object();
        for (const auto& [name, v] : m.metrics) metrics[name] = number_json(v);
        e["metrics"] = std::move(metrics);
      }
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  ordered_json blocks = ordered_json::array();
  for (const auto& b : maps.blocks) blocks.push_back(entry(b));
  j["blocks"] = std::move(blocks);
  ordered_json skipped = ordered_json::array();
  for (const auto& [name, why] : maps.skipped) skipped.push_back({{"name", name}, {"reason", why}});
  j["skipped"] = std::move(skipped);
  return j.dump(2) + "\n";
}

void write_summary_json(const fs::path& path, const ReducedMaps& maps, const MapProvenance& prov) {
  write_text_file(path, summary_json(maps, prov));
}

void write_summary_csv(const fs::path& path, const ReducedMaps& maps, [[maybe_unused]] const MapProvenance& prov) {
  // Metric columns are the union of the per-matrix metrics, in first-seen order.
  std::vector<std::string> metric_names;
  for (const auto& m : maps.maps)
    for (const auto& [k, v] : m.metrics)
      if (std::find(metric_names.begin(), metric_names.end(), k) == metric_names.end()) metric_names.push_back(k);
  // "value" is the chosen reduction (a column of its own, so the header never repeats a name).
  std::string out = "level,name,block,kind,count,sum,mean,max,l2,value";
  for (const auto& k : metric_names) out += "," + k;
  out += "\n";
  auto row = [&](const char* level, const ScoreSummary& s, const ReducedMaps::Map* m) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{}", level, csv_field(s.name), csv_field(s.block), s.kind, s.count,
                       csv_number(s.sum), csv_number(s.mean), csv_number(s.max), csv_number(s.l2),
                       csv_number(s.value(maps.reduction)));
    for (const auto& k : metric_names) {
      double v = std::nan("");
      if (m)
        for (const auto& [mk, mv] : m->metrics)
          if (mk == k) v = mv;
      out += "," + csv_number(v);
    }
    out += "\n";
  };
  for (const auto& t : maps.tensors) {
    const ReducedMaps::Map* m = nullptr;
    for (const auto& mm : maps.maps)
      if (mm.name == t.name) m = &mm;
    row("tensor", t, m);
  }
  for (const auto& b : maps.blocks) row("block", b, nullptr);
  write_text_file(path, out);
}

}  // namespace paramscope
