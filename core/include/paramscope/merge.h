// Model merging: task vectors of fine-tuned checkpoints against a base, combined by mergekit's
// methods (linear, task arithmetic, TIES, DARE, breadcrumbs), magnitude pruning, PCB-merging and
// importance-weighted (Fisher) merging, and written as safetensors. Parameters may differ per
// tensor (mergekit's filters and gradients). docs/merging.md gives each method's formula, paper
// and defaults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "paramscope/dtype.h"
#include "paramscope/jobs.h"

namespace paramscope {

class Checkpoint;

enum class MergeMethod : std::uint8_t {
  Linear,
  TaskArithmetic,
  Ties,
  DareLinear,
  DareTies,
  Breadcrumbs,
  BreadcrumbsTies,
  MagnitudePrune,     ///< PEFT's magnitude_prune: TIES' magnitude trim without the sign election
  Pcb,                ///< PCB-merging (Du et al. 2024): not in mergekit's registry
  ImportanceWeighted  ///< Fisher merging generalised to any element-wise importance criterion
};

/// How the sign of each merged entry is elected (TIES): none, by the sign of the summed weighted
/// deltas ("sum", mergekit's default) or by the majority of their signs ("count").
enum class SignConsensus : std::uint8_t { None, Sum, Count };

/// Which entries of each task vector survive: all, the top `density` by |tau| (magnitude), a
/// random `density` fraction (DARE) or the next `density` after dropping the top `gamma`
/// (breadcrumbs, mergekit's "magnitude_outliers").
enum class Sparsification : std::uint8_t { None, Magnitude, Random, MagnitudeOutliers };

/// mergekit's spelling ("linear", "task_arithmetic", "ties", "dare_linear", "dare_ties",
/// "breadcrumbs", "breadcrumbs_ties"), then "magnitude_prune", "pcb", "importance_weighted".
std::string_view merge_method_name(MergeMethod m) noexcept;
/// Also accepts "fisher" (importance_weighted; the recipe then defaults the criterion to fisher).
std::optional<MergeMethod> merge_method_from_name(std::string_view name) noexcept;
/// Every name merge_method_from_name() accepts, comma-separated (for error messages).
std::string merge_method_names();

/// The parts a method is made of, and mergekit's defaults for it.
struct MergeMethodTraits {
  SignConsensus consensus;
  Sparsification sparsification;
  bool default_normalize;
  bool default_rescale;  ///< DARE: survivors scaled by 1/density
  bool uses_base;        ///< false only for linear
};
MergeMethodTraits merge_method_traits(MergeMethod m) noexcept;

/// A parameter as a recipe may give it (mergekit's ParameterSetting): a number, a gradient (a list
/// of numbers interpolated over the layers) or a list of {filter, value} entries where the first
/// entry whose filter is a substring of the tensor name (or that has no filter, or "*") wins.
struct MergeSetting {
  struct Entry {
    std::optional<std::string> filter;  ///< nullopt (or "*"): matches every tensor
    std::vector<double> values;         ///< one value, or a gradient of two or more
  };
  std::vector<Entry> entries;
  bool filtered = false;  ///< a {filter, value} list (else entries holds one unfiltered entry)

  static MergeSetting scalar(double v);
  static MergeSetting gradient(std::vector<double> values);
  /// mergekit's evaluate_setting: the value for a tensor at layer fraction t in [0, 1]; nullopt
  /// when no entry matches (the caller falls back to the global setting, then the default).
  std::optional<double> resolve(std::string_view tensor, double t) const;
};
using MergeSettings = std::map<std::string, MergeSetting, std::less<>>;

/// Per-model parameters (mergekit's tensor parameters). weight has no default in mergekit: NaN
/// marks it required (an error names the tensor no setting covers).
struct MergeModelParams {
  double weight = 1.0;
  double density = 1.0;  ///< fraction of task-vector entries kept, in [0, 1]
  double gamma = 0.01;   ///< breadcrumbs: fraction of the largest |tau| dropped
};

/// Global parameters; default_merge_params() fills in mergekit's defaults for a method.
struct MergeParams {
  MergeMethod method = MergeMethod::Linear;
  bool normalize = true;
  bool rescale = false;
  double lambda = 1.0;  ///< scales the mixed task vector before it is added to the base
  SignConsensus consensus = SignConsensus::None;
  std::uint64_t seed = 0;   ///< DARE's random drop
  double pcb_ratio = 0.1;   ///< PCB: fraction of each model's balancing values kept (authors' default)
  std::string criterion;    ///< importance_weighted: a CriterionRegistry name ("fisher", "magnitude", ...)
  std::map<std::string, std::string> criterion_params;  ///< importance_weighted: the criterion's parameters
  /// Per-tensor settings of the global parameters ("lambda", "pcb_ratio", and "normalize" and
  /// "rescale" as 0 or 1) and defaults of the per-model ones ("weight", "density", "gamma"); they
  /// override the plain fields above.
  MergeSettings settings;
};
MergeParams default_merge_params(MergeMethod m) noexcept;

/// DARE's keep decision for one entry: a hash of (seed, model index, tensor name, element index)
/// mapped to [0, 1) and compared with density, so that the result depends neither on threads nor
/// on chunking (and cannot equal torch.bernoulli's draws).
bool dare_keep(std::uint64_t seed, std::size_t model, std::string_view tensor, std::int64_t element,
               double density) noexcept;

/// What one merged tensor did.
struct MergedTensorStats {
  std::string name;
  std::int64_t numel = 0;
  std::vector<std::int64_t> kept;         ///< per model: entries that survived sparsification
  std::vector<std::int64_t> contributed;  ///< per model: kept entries agreeing with the elected sign
  std::int64_t sign_conflicts = 0;        ///< entries where kept non-zero deltas differ in sign
  bool copied = false;                    ///< not a float tensor: the base's values copied
  std::vector<MergeModelParams> params;   ///< per model: the values resolved for this tensor
  double lambda = 1, pcb_ratio = 0.1;     ///< resolved for this tensor
  std::string note;  ///< importance_weighted: why this tensor fell back to the weighted mean
};

/// Merges one tensor held in memory (tests and previews; merge_checkpoints gives the same values).
/// models[i] has base.size() elements. For Linear, base is ignored (may be empty). For
/// ImportanceWeighted, importance[i] holds model i's element scores (empty: the weighted mean).
/// params.settings are not applied here (resolve_tensor_params does that).
/// throws Error(Usage) for sizes that differ or parameters out of range.
std::vector<float> merge_tensor_values(const MergeParams& params, std::string_view tensor_name,
                                       std::span<const float> base, const std::vector<std::span<const float>>& models,
                                       const std::vector<MergeModelParams>& model_params,
                                       MergedTensorStats* stats = nullptr,
                                       const std::vector<std::span<const float>>& importance = {});

struct MergeInput {
  const Checkpoint* checkpoint = nullptr;
  MergeModelParams params;
  MergeSettings settings{};           ///< per-tensor settings of "weight", "density", "gamma"
  const Checkpoint* stats = nullptr;  ///< importance_weighted: this model's statistics file
};

/// mergekit's layer fraction t of every tensor of a checkpoint (for gradients): tensors of the
/// k-th of L numbered blocks get k / (L - 1) (1 when L == 1); tensors outside numbered blocks get
/// 0 when they come first (embeddings, stems) and 1 otherwise (final norms, heads).
std::vector<double> merge_layer_fractions(const Checkpoint& checkpoint);

/// The parameters of one tensor: for each numeric key the model's own setting, else the global
/// one (params.settings), else the plain value (mergekit's ConfigReader order).
/// throws Error(Usage) naming the model and the tensor when a required weight is not covered.
void resolve_tensor_params(const MergeParams& params, const std::vector<MergeInput>& models, std::string_view tensor,
                           double t, MergeParams& out, std::vector<MergeModelParams>& out_models);

/// Checks that every tensor of the reference (the base) is in every model with the same shape and
/// that no model has tensors the base lacks.
/// throws Error(BadInput) naming the model's file and the tensor: missing, other shape, other count.
void check_merge_alignment(const Checkpoint& base, const std::vector<MergeInput>& models);

/// throws Error(Usage) if a parameter is out of range (density outside [0, 1], gamma < 0, ...),
/// for every tensor of base when given (per-tensor settings).
void check_merge_params(const MergeParams& params, const std::vector<MergeInput>& models,
                        const Checkpoint* base = nullptr);

struct MergeOutputOptions {
  std::optional<DType> dtype;  ///< F32, F16 or BF16; default: each tensor's base dtype (F32 if not one of those)
  std::uint64_t shard_bytes = 5'000'000'000;  ///< above this, shards and model.safetensors.index.json
  /// Recorded in every shard's __metadata__ as "merge_recipe"; default: merge_recipe_json().
  std::string recipe_json;
};

struct MergeSummary {
  std::vector<MergedTensorStats> tensors;
  std::vector<std::filesystem::path> files;  ///< written, in out_dir
  std::uint64_t bytes = 0;                   ///< tensor bytes written
};

/// The recipe as JSON text (method, parameters, models and their parameters).
std::string merge_recipe_json(const Checkpoint& base, const std::vector<MergeInput>& models, const MergeParams& params);

/// Merges models into base tensor by tensor (in chunks on pool; magnitude selections keep one
/// float per element of the tensor being merged, PCB N + 1 floats for N models) and writes out_dir/model.safetensors (or shards
/// and an index) plus config.json copied from the base. For Linear, base is the reference for
/// names, shapes and dtypes only. Files are staged in out_dir and moved into place at the end:
/// on error or cancellation nothing is left in out_dir.
/// throws Error(BadInput) for misaligned models, Error(Usage) for bad parameters, Error(Io),
/// Error(Cancelled).
MergeSummary merge_checkpoints(const std::filesystem::path& out_dir, const Checkpoint& base,
                               const std::vector<MergeInput>& models, const MergeParams& params,
                               const MergeOutputOptions& output, ThreadPool& pool, const JobControl& control);

}  // namespace paramscope
