// The Gaussian blur that serves as a baseline (DeepLIFT, Integrated Gradients) and as the
// substrate of insertion curves.
#pragma once

#include <vector>

#include "paramscope/array.h"

namespace paramscope::xai {

/// x (F32) blurred along each of the given axes by a Gaussian of sigma samples, truncated at
/// ceil(3 sigma) taps and renormalised over the taps inside the array at its edges (so a constant
/// stays constant). Returns a new array.
Array gaussian_blur(const Array& x, const std::vector<int>& axes, double sigma);

}  // namespace paramscope::xai
