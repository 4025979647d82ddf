// Importance criteria: a registry of scoring rules (magnitude, delta, Wanda, Taylor, Fisher, OBD,
// contrast, spectral...), element score fields built from a checkpoint, and their reductions to
// neurons, heads, tensors and blocks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "paramscope/checkpoint.h"
#include "paramscope/jobs.h"
#include "paramscope/score_field.h"

namespace paramscope {

// ---------------------------------------------------------------------------------------------
// Granularities and reductions

enum class Granularity : std::uint8_t {
  Element,  ///< one score per weight
  Row,      ///< output neuron: dim 0 (rows of a Linear weight, output channels of a conv)
  Column,   ///< input neuron: dim 1 (columns of a Linear weight, input channels of a conv)
  Head,     ///< attention head: rows of q/k/v projections, columns of the output projection
  Tensor,   ///< one score per tensor
  Block,    ///< one score per block (layer)
};
enum class Reduction : std::uint8_t { Sum, Mean, Max, L2 };

std::string_view granularity_name(Granularity g) noexcept;
std::string_view reduction_name(Reduction r) noexcept;
/// "element", "row" (also "neuron", "out", "channel"), "column" ("in"), "head", "tensor",
/// "block" ("layer"). throws Error(Usage) listing the accepted names.
Granularity parse_granularity(std::string_view name);
/// "sum", "mean", "max", "l2". throws Error(Usage).
Reduction parse_reduction(std::string_view name);

// ---------------------------------------------------------------------------------------------
// Criteria

/// What criteria read besides the weights. Statistics files are safetensors whose tensors are
/// named after the checkpoint's weights with a suffix (see docs/statistics.md):
///   "<weight>@act_l2"  [in]          L2 norm over all calibration tokens of each input feature
///   "<weight>@grad"    weight shape  gradient of the loss accumulated (summed) over samples
///   "<weight>@grad_sq" weight shape  squared gradient accumulated (summed) over samples
/// with __metadata__ "samples" = the number of samples summed (used to average, default 1).
struct CriterionInputs {
  const Checkpoint* base = nullptr;            ///< delta criteria: the base model
  const Checkpoint* stats = nullptr;           ///< data-driven criteria
  const Checkpoint* contrast_stats = nullptr;  ///< contrast: statistics of the data to remove
  std::map<std::string, std::string> params;   ///< criterion parameters ("eps", "of", "mode", "top")
};

struct CriterionInfo {
  std::string name;         ///< "magnitude"
  std::string formula;      ///< "|w|"
  std::string source;       ///< the paper it comes from
  bool elementwise = true;  ///< false: one value per matrix (tensor granularity and coarser only)
  bool needs_base = false;
  std::vector<std::string> needs_stats;       ///< suffixes ("act_l2", "grad", "grad_sq")
  std::map<std::string, std::string> params;  ///< accepted parameters and their defaults
};

/// Element scores of one tensor.
class TensorScorer {
 public:
  virtual ~TensorScorer() = default;
  /// out[i] = score of element first + i, given the weight values w (already read). Thread-safe.
  virtual void score(std::int64_t first, std::span<const float> w, std::span<float> out) const = 0;
  /// Pages of auxiliary inputs (base, statistics) for the range can leave memory.
  virtual void release(std::int64_t /*first*/, std::int64_t /*count*/) const noexcept {}
  /// True if an element's score depends on its weight value alone (not on its position or on
  /// other inputs), so scores of 16-bit weights can come from a table of all 65536 values.
  virtual bool value_only() const noexcept { return false; }
};

/// What a per-matrix criterion says about one tensor.
struct MatrixScore {
  double value = 0;                                     ///< the criterion's score
  std::vector<std::pair<std::string, double>> metrics;  ///< related values computed on the way
  std::vector<double> spectrum;                         ///< singular values, for spectral criteria
};

class Criterion {
 public:
  virtual ~Criterion() = default;
  virtual const CriterionInfo& info() const noexcept = 0;

  /// Element-wise criteria: a scorer for one weight. Checks the inputs it needs are there and
  /// fit. throws Error(Usage) naming the tensor and the missing or mismatched input.
  virtual std::unique_ptr<TensorScorer> scorer(const Tensor& weight, const CriterionInputs& in) const;

  /// Per-matrix criteria: the tensor's value. throws Error(Usage) for tensors it cannot score.
  virtual MatrixScore matrix_score(const Tensor& weight, const CriterionInputs& in) const;
};

/// The criteria ParamScope knows. Adding one is a class and one line in
/// core/src/importance/criteria/builtin_criteria.cpp.
class CriterionRegistry {
 public:
  static const CriterionRegistry& builtin();
  void add(std::unique_ptr<Criterion> c);
  /// nullptr if unknown.
  const Criterion* find(std::string_view name) const noexcept;
  /// throws Error(Usage) listing the known names.
  const Criterion& get(std::string_view name) const;
  std::vector<const Criterion*> all() const;

 private:
  std::vector<std::unique_ptr<Criterion>> criteria_;
};

// ---------------------------------------------------------------------------------------------
// Which tensors are scored

struct TensorSelection {
  /// Glob patterns on tensor names ('*' any run, '?' one character); empty: the default set.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  /// The default set: floating-point weights with two or more dimensions that are not
  /// embeddings (what pruning and importance papers score). all_tensors: every float tensor.
  bool all_tensors = false;
};

/// Whether name matches a glob pattern ('*' any run, '?' one character).
bool glob_match(std::string_view pattern, std::string_view name) noexcept;

/// Indices into checkpoint.tensors(), in checkpoint order. throws Error(Usage) if nothing matches.
std::vector<std::size_t> select_tensors(const Checkpoint& checkpoint, const TensorSelection& selection);

/// For each tensor of the checkpoint, the position of its block in model order.
std::vector<std::size_t> block_ranks(const Checkpoint& checkpoint);

/// The element scores of an element-wise criterion over the selected tensors, computed on demand
/// (the checkpoint and the inputs must outlive the field). throws Error(Usage) if the criterion
/// is not element-wise or an input it needs is missing for a selected tensor.
std::shared_ptr<const ScoreField> make_score_field(const Checkpoint& checkpoint,
                                                   const std::vector<std::size_t>& tensors, const Criterion& criterion,
                                                   const CriterionInputs& inputs);

// ---------------------------------------------------------------------------------------------
// Reduced maps

/// Attention geometry for Head granularity; from config.json (num_attention_heads,
/// num_key_value_heads, n_head) or GGUF metadata, or given by the user.
struct HeadConfig {
  int heads = 0;     ///< 0: unknown (Head granularity then fails with a clear message)
  int kv_heads = 0;  ///< 0: same as heads
  static HeadConfig from_checkpoint(const Checkpoint& c);
};

/// Sum, mean, max and L2 norm of the (finite) scores of a tensor or a block.
struct ScoreSummary {
  std::string name;
  std::string block, kind;  ///< tensors only: where the tensor sits (module_kind_name)
  std::int64_t count = 0;   ///< finite scores
  double sum = 0, mean = 0, max = 0, l2 = 0;
  double value(Reduction r) const noexcept;
};

/// One reduced map per tensor (tensors that the granularity does not apply to are left out and
/// listed in `skipped` with the reason), and summaries per tensor and per block.
struct ReducedMaps {
  Granularity granularity;
  Reduction reduction;
  struct Map {
    std::size_t tensor;  ///< index in the score field (or in the selection, for matrix criteria)
    std::string name;
    Shape shape;  ///< of the map: [rows], [cols], [heads], [] for tensor and block
    std::vector<float> values;
    std::vector<std::pair<std::string, double>> metrics;  ///< per-matrix criteria: related values
    std::vector<double> spectrum;                         ///< spectral criteria: singular values
  };
  std::vector<Map> maps;
  std::vector<ScoreSummary> tensors;                         ///< every scored tensor, in field order
  std::vector<ScoreSummary> blocks;                          ///< every block, in model order
  std::vector<std::pair<std::string, std::string>> skipped;  ///< tensor name, why
};

/// Reduces element scores (NaN left out) to the granularity; Element granularity gives no maps
/// (the field is the map). Deterministic: the same result for any number of threads.
/// throws Error(Usage) for Head granularity without a head count, Error(Cancelled).
ReducedMaps reduce_scores(const ScoreField& field, Granularity granularity, Reduction reduction,
                          const HeadConfig& heads, ThreadPool& pool, const JobControl& control = {});

/// Per-matrix criteria: value per selected tensor, reduced per block. Matrices are scored in
/// parallel (spectral ones one at a time: LAPACK uses every core itself).
ReducedMaps matrix_scores(const Checkpoint& checkpoint, const std::vector<std::size_t>& tensors,
                          const Criterion& criterion, const CriterionInputs& inputs, Reduction block_reduction,
                          ThreadPool& pool, const JobControl& control = {});

}  // namespace paramscope
