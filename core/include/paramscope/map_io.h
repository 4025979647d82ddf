// Writing importance maps: HDF5 (one dataset per tensor, with where it came from), NPY, and
// per-tensor / per-block summaries as CSV and JSON. Element maps are computed while they are
// written, on the pool, so a 7B-parameter map never sits in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "paramscope/importance.h"
#include "paramscope/writers.h"

namespace paramscope {

/// What produced a map; stored as attributes (HDF5) or fields (JSON) so a map file says what it is.
struct MapProvenance {
  std::string criterion;
  Granularity granularity = Granularity::Element;
  Reduction reduction = Reduction::Sum;
  std::map<std::string, std::string> params;
  std::filesystem::path source;  ///< the checkpoint
  std::uint64_t source_bytes = 0;
  std::string base, stats, contrast_stats;  ///< paths of the other inputs, "" if none
};

/// The provenance of a checkpoint's map (source path and the size of its files).
MapProvenance provenance_of(const Checkpoint& checkpoint, const std::string& criterion, Granularity g, Reduction r,
                            const CriterionInputs& inputs);

std::vector<Hdf5Attribute> provenance_attributes(const MapProvenance& p);

/// Element maps to HDF5: one float32 dataset per tensor, named like the tensor, with its shape.
/// throws Error(Io), Error(Cancelled) (the partial file is removed), and what scoring throws.
void write_element_maps_hdf5(const std::filesystem::path& path, const ScoreField& field, const MapProvenance& prov,
                             ThreadPool& pool, const JobControl& control = {});

/// Element maps as NPY: `path` ending in .npy for a field of one tensor, otherwise a folder
/// holding <tensor name>.npy files ('/' in names becomes '_') and index.json mapping names to files.
void write_element_maps_npy(const std::filesystem::path& path, const ScoreField& field, const MapProvenance& prov,
                            ThreadPool& pool, const JobControl& control = {});

/// Reduced maps to HDF5: a dataset per tensor map; block values under "blocks/<block>"; spectra
/// under "spectrum/<tensor>"; per-matrix metrics as attributes of the tensor's dataset.
void write_reduced_maps_hdf5(const std::filesystem::path& path, const ReducedMaps& maps, const MapProvenance& prov);
void write_reduced_maps_npy(const std::filesystem::path& path, const ReducedMaps& maps, const MapProvenance& prov);

/// Summaries per tensor and per block (count, sum, mean, max, l2 of the scores, the chosen
/// reduction's value, per-matrix metrics) as CSV (one row per tensor and block, column "level")
/// or JSON (the same as summary_json()).
void write_summary_csv(const std::filesystem::path& path, const ReducedMaps& maps, const MapProvenance& prov);
void write_summary_json(const std::filesystem::path& path, const ReducedMaps& maps, const MapProvenance& prov);
std::string summary_json(const ReducedMaps& maps, const MapProvenance& prov);

/// "model.layers.0.mlp.up_proj.weight" -> a file name without '/' (and not "." or "..").
std::string file_name_for(const std::string& tensor_name);

}  // namespace paramscope
