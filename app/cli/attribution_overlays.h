// PNG overlays of attribution maps on their inputs, drawn with the figures library (the GUI's
// attribution scene) when it is built.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "paramscope/array.h"
#include "paramscope/attribution.h"

namespace paramscope::cli {

/// One PNG per sample of the batch x: the input with a.map blended over it, named
/// "<stem>.png" for a batch of one, "<stem>_<sample>.png" otherwise; returns the files written.
/// Builds without the figures library write none and say so once on stderr.
/// throws Error(Io) if a file cannot be written.
std::vector<std::string> write_attribution_overlays(const Array& x, const xai::Attribution& a,
                                                    const std::string& method, const std::filesystem::path& stem,
                                                    const std::vector<int>& axes);

}  // namespace paramscope::cli
