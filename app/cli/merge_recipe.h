// mergekit-style YAML merge recipes: what `paramscope-cli merge` reads.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "paramscope/dtype.h"
#include "paramscope/merge.h"

namespace paramscope::cli {

struct RecipeModel {
  std::filesystem::path path;  ///< resolved against the recipe's folder
  MergeModelParams params;     ///< scalars (weight NaN: required, only per-tensor settings given)
  MergeSettings settings;      ///< list-valued parameters (gradients, filters)
  std::optional<std::filesystem::path> stats;  ///< importance_weighted: statistics file
};

struct MergeRecipe {
  std::filesystem::path file;
  MergeParams params;
  std::optional<std::filesystem::path> base;  ///< required by every method but linear
  std::vector<RecipeModel> models;            ///< the base itself is left out (mergekit skips it)
  std::optional<DType> dtype;                 ///< out_dtype, else dtype
};

/// Parameters may be numbers, gradients (lists of numbers) or lists of {filter, value} (mergekit's
/// ParameterSetting); list-valued ones go to MergeParams::settings / RecipeModel::settings.
/// throws Error(Io) if the file cannot be read, Error(BadInput) naming the file and the key for a
/// malformed recipe, an unknown key or method, a missing weight or an unsupported feature.
MergeRecipe load_merge_recipe(const std::filesystem::path& file);

/// "float32"/"fp32"/"f32"/"F32", "float16"/"fp16"/"half"/"f16", "bfloat16"/"bf16"; nullopt otherwise.
std::optional<DType> merge_dtype_from_name(const std::string& name);

}  // namespace paramscope::cli
