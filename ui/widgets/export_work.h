// The work behind File > Export Mask... and File > Export Importance Maps...: the same core
// selection and writers as `paramscope-cli mask` and `paramscope-cli importance` (the files are
// written by the core, under a temporary name renamed into place), run as jobs on the pool.
#pragma once

#include <functional>
#include <memory>

#include <QString>

#include "checkpoint_tree_model.h"
#include "criterion_panel.h"
#include "job.h"
#include "paramscope/mask.h"

namespace paramscope::ui {

struct MaskExportRequest {
  ComputeRequest criterion;             ///< criterion and its inputs (granularity is not used)
  QString top = QStringLiteral("10%");  ///< as --top: "10%", "0.1", "5000", or the threshold
  QString scope = QStringLiteral("global");  ///< global, tensor, row, N:M ("2:4"), threshold
  bool u8 = false;                      ///< U8 instead of BOOL
  QString output;                       ///< .safetensors
};

struct MaskExportResult {
  QString output;
  QString spec;  ///< "top 10% global"
  paramscope::MaskSummary summary;
};

/// Checks the request (criterion, top and scope parse; element-wise criterion; an output path).
/// throws Error(Usage) with the reason, before any work starts.
void checkMaskRequest(const MaskExportRequest& request);
/// Scores the checkpoint's default tensor selection and writes the mask; deliver runs on the
/// GUI thread with the densities.
Job::Work maskExportWork(CheckpointPtr checkpoint, MaskExportRequest request,
                         std::function<void(std::shared_ptr<const MaskExportResult>)> deliver);
/// "top 10% global by magnitude: 170 of 1,700 kept (10.00 %)", then one line per tensor.
QString densityReport(const MaskExportResult& result, bool perTensor = true);

struct MapsExportRequest {
  ComputeRequest criterion;  ///< criterion, inputs, and the granularity/reduction of reduced maps
  bool element = true;       ///< element maps; false: the request's granularity and reduction
  QString output;            ///< .h5/.hdf5: HDF5; .npy or a folder: NPY; "" for none
  QString summary;           ///< .csv or .json; "" for none
};

/// throws Error(Usage) when nothing would be written or the criterion cannot give the maps.
void checkMapsRequest(const MapsExportRequest& request);
/// Writes the maps and the summary; deliver runs on the GUI thread with what was written.
Job::Work mapsExportWork(CheckpointPtr checkpoint, MapsExportRequest request, std::function<void(QString)> deliver);

}  // namespace paramscope::ui
