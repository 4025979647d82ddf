// How Keras names weights: the variables of known layer classes (Keras 3 stores them only by
// index), the snake_case class behind a layer or attribute name, and which weights are state
// rather than learned parameters.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "paramscope/tensor.h"

namespace paramscope::io::keras {

/// "conv2d_3" -> "conv2d", "dense" -> "dense": a Keras 3 container entry is the snake_case class
/// name with _1, _2, ... appended for repeats (saving_lib._save_container_state).
std::string_view class_of(std::string_view group_name);

/// The names of the count variables a Keras 3 layer saves in order (trainable variables, then the
/// others, as Layer.save_own_variables writes them), e.g. "dense", 2 -> {"kernel", "bias"}.
/// Empty if the class is not known or has no layout with that many variables.
std::vector<std::string_view> variable_names(std::string_view group_name, std::size_t count);

/// Buffer for running statistics and RNG state ("moving_mean", "seed_generator"), Parameter
/// otherwise. name is a full weight name such as "batch_normalization/moving_mean:0".
TensorRole role_of(std::string_view name);

}  // namespace paramscope::io::keras
