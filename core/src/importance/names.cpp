#include <string>

#include "paramscope/error.h"
#include "paramscope/importance.h"

namespace paramscope {

std::string_view granularity_name(Granularity g) noexcept {
  switch (g) {
    case Granularity::Element:
      return "element";
    case Granularity::Row:
      return "row";
    case Granularity::Column:
      return "column";
    case Granularity::Head:
      return "head";
    case Granularity::Tensor:
      return "tensor";
    case Granularity::Block:
      return "block";
  }
  return "element";
}

std::string_view reduction_name(Reduction r) noexcept {
  switch (r) {
    case Reduction::Sum:
      return "sum";
    case Reduction::Mean:
      return "mean";
    case Reduction::Max:
      return "max";
    case Reduction::L2:
      return "l2";
  }
  return "sum";
}

Granularity parse_granularity(std::string_view n) {
  if (n == "element" || n == "weight") return Granularity::Element;
  if (n == "row" || n == "neuron" || n == "out" || n == "channel" || n == "output") return Granularity::Row;
  if (n == "column" || n == "in" || n == "input") return Granularity::Column;
  if (n == "head") return Granularity::Head;
  if (n == "tensor" || n == "matrix") return Granularity::Tensor;
  if (n == "block" || n == "layer") return Granularity::Block;
  throw usage_error("unknown granularity '" + std::string(n) +
                    "' (element; row = neuron = out = channel; column = in; head; tensor; block = layer)");
}

Reduction parse_reduction(std::string_view n) {
  if (n == "sum") return Reduction::Sum;
  if (n == "mean") return Reduction::Mean;
  if (n == "max") return Reduction::Max;
  if (n == "l2") return Reduction::L2;
  throw usage_error("unknown reduction '" + std::string(n) + "' (sum, mean, max, l2)");
}

}  // namespace paramscope
