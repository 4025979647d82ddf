// What `paramscope-cli importance` / `mask` and the GUI's Export dialogs write, in one place so
// both front ends produce the same files from the same core writers.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "paramscope/importance.h"
#include "paramscope/map_io.h"

namespace paramscope {

/// Where importance maps go and at which granularity.
struct MapExportSpec {
  Granularity granularity = Granularity::Element;
  Reduction reduction = Reduction::Sum;
  HeadConfig heads;
  std::filesystem::path output;   ///< .h5/.hdf5: HDF5; otherwise NPY (.npy or a folder); empty: no map
  std::filesystem::path summary;  ///< .json: JSON; otherwise CSV; empty: no summary
  bool reduce = false;            ///< compute the reduced maps even without a summary (for printing)
};

/// True for names ending in .h5 or .hdf5.
bool is_hdf5_path(const std::filesystem::path& path);

/// Scores the tensors with the criterion and writes what spec asks for: element maps (streamed
/// while scored) or reduced maps, and the summary. Returns the reduced maps (per tensor when the
/// granularity is element) if a summary or spec.reduce asked for them, else empty maps.
/// Per-matrix criteria take tensor or block granularity only. throws Error(Usage) for a
/// granularity the criterion cannot give, Error(Cancelled) (partial files removed by the
/// writers), Error(Io), and what scoring throws.
ReducedMaps export_importance_maps(const Checkpoint& model, const std::vector<std::size_t>& tensors,
                                   const Criterion& criterion, const CriterionInputs& inputs,
                                   const MapExportSpec& spec, ThreadPool& pool, const JobControl& control = {});

/// The __metadata__ a mask file carries beside its selection: criterion, source, parameters and
/// the other inputs' paths.
std::vector<std::pair<std::string, std::string>> mask_metadata(const Checkpoint& model, const Criterion& criterion,
                                                               const CriterionInputs& inputs);

}  // namespace paramscope
