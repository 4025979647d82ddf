// Element-wise scores over a set of tensors, computed on demand: what criteria produce and what
// masks, reductions, comparisons and writers consume. Never all in memory at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "paramscope/hierarchy.h"
#include "paramscope/shape.h"

namespace paramscope {

/// One scored tensor: the element scores of tensor i have the shape of the tensor.
struct ScoredTensor {
  std::string name;
  Shape shape;
  std::int64_t numel = 0;
  TensorPlace place;           ///< block and module kind, for per-block summaries and head grouping
  std::size_t block_rank = 0;  ///< position of the block in model order (Hierarchy::blocks())
};

class ScoreField {
 public:
  virtual ~ScoreField() = default;

  const std::vector<ScoredTensor>& tensors() const noexcept { return tensors_; }
  std::size_t size() const noexcept { return tensors_.size(); }
  std::uint64_t elements() const noexcept;

  /// Scores of elements [first, first + out.size()) of tensor i, row-major. Thread-safe.
  /// Scores are finite or NaN (NaN where an input was NaN: never selected, never counted).
  /// throws what reading the inputs throws (Error(Io/BadInput/Unsupported)).
  virtual void scores(std::size_t i, std::int64_t first, std::span<float> out) const = 0;

  /// Hint that elements [first, first + count) of tensor i will not be scored again soon, so
  /// mapped input pages can leave the resident set.
  virtual void release(std::size_t /*i*/, std::int64_t /*first*/, std::int64_t /*count*/) const noexcept {}

  /// Scores of tensor i as a table lookup of its stored 16-bit values (|w| of bf16 or f16
  /// weights): score of element j = (*table)[codes[j]], exactly what scores() gives. Lets
  /// selections histogram codes instead of scores. Tensors that share a table share the pointer.
  struct Coded {
    std::span<const std::uint16_t> codes;
    const std::vector<float>* table = nullptr;  ///< 65536 scores, owned by the field
  };
  /// Tensor i's codes and table, if its scores are a function of 16-bit stored values.
  virtual std::optional<Coded> coded(std::size_t /*i*/) const { return std::nullopt; }

 protected:
  explicit ScoreField(std::vector<ScoredTensor> tensors) : tensors_(std::move(tensors)) {}

 private:
  std::vector<ScoredTensor> tensors_;
};

/// A field over values held in memory (tests, small maps, maps read back from files).
/// values[i] must hold numel(shapes[i]) floats. throws Error(Usage) if a size does not match.
std::shared_ptr<const ScoreField> make_memory_score_field(std::vector<std::string> names, std::vector<Shape> shapes,
                                                          std::vector<std::vector<float>> values);

}  // namespace paramscope
