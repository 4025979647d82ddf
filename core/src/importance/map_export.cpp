#include "paramscope/map_export.h"

#include "paramscope/error.h"

namespace paramscope {
namespace {

void write_reduced(const std::filesystem::path& path, const ReducedMaps& maps, const MapProvenance& prov) {
  if (is_hdf5_path(path))
    write_reduced_maps_hdf5(path, maps, prov);
  else
    write_reduced_maps_npy(path, maps, prov);
}

}  // namespace

bool is_hdf5_path(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".h5" || ext == ".hdf5";
}

ReducedMaps export_importance_maps(const Checkpoint& model, const std::vector<std::size_t>& tensors,
                                   const Criterion& criterion, const CriterionInputs& inputs,
                                   const MapExportSpec& spec, ThreadPool& pool, const JobControl& control) {
  const Granularity g = spec.granularity;
  const MapProvenance prov = provenance_of(model, criterion.info().name, g, spec.reduction, inputs);
  ReducedMaps maps;
  if (!criterion.info().elementwise) {
    if (g != Granularity::Tensor && g != Granularity::Block)
      throw usage_error("criterion " + criterion.info().name +
                        " gives one value per matrix: use --granularity tensor or block");
    maps = matrix_scores(model, tensors, criterion, inputs, spec.reduction, pool, control);
    maps.granularity = g;
    if (g == Granularity::Block) maps.maps.clear();
    if (!spec.output.empty()) write_reduced(spec.output, maps, prov);
  } else {
    const auto field = make_score_field(model, tensors, criterion, inputs);
    if (g == Granularity::Element && !spec.output.empty()) {
      if (is_hdf5_path(spec.output))
        write_element_maps_hdf5(spec.output, *field, prov, pool, control);
      else
        write_element_maps_npy(spec.output, *field, prov, pool, control);
    }
    if (!spec.summary.empty() || spec.reduce || g != Granularity::Element) {
      maps = reduce_scores(*field, g == Granularity::Element ? Granularity::Tensor : g, spec.reduction, spec.heads,
                           pool, control);
      maps.granularity = g;
      if (g != Granularity::Element && !spec.output.empty()) write_reduced(spec.output, maps, prov);
    }
  }
  if (!spec.summary.empty()) {
    if (spec.summary.extension() == ".json")
      write_summary_json(spec.summary, maps, prov);
    else
      write_summary_csv(spec.summary, maps, prov);
  }
  return maps;
}

std::vector<std::pair<std::string, std::string>> mask_metadata(const Checkpoint& model, const Criterion& criterion,
                                                               const CriterionInputs& inputs) {
  std::vector<std::pair<std::string, std::string>> metadata = {{"paramscope.criterion", criterion.info().name},
                                                               {"paramscope.source", model.path().string()}};
  for (const auto& [k, v] : inputs.params) metadata.emplace_back("paramscope.param." + k, v);
  if (inputs.stats) metadata.emplace_back("paramscope.stats", inputs.stats->path().string());
  if (inputs.base) metadata.emplace_back("paramscope.base", inputs.base->path().string());
  return metadata;
}

}  // namespace paramscope
