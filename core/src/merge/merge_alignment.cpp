// Before any value is read: every model must hold the base's tensors with the base's shapes.
#include <string>
#include <unordered_set>

#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/merge.h"
#include "paramscope/shape.h"

namespace paramscope {

void check_merge_alignment(const Checkpoint& base, const std::vector<MergeInput>& models) {
  for (const auto& m : models) {
    if (!m.checkpoint) throw usage_error("merge: a model is missing");
    const Checkpoint& c = *m.checkpoint;
    for (const Tensor& t : base.tensors()) {
      const Tensor* o = c.find(t.name());
      if (!o)
        throw bad_input(c.path(), "tensor '" + t.name() + "' of the base (" + base.path().string() + ") is missing");
      if (o->shape() != t.shape())
        throw bad_input(c.path(), "tensor '" + t.name() + "' has shape " + shape_string(o->shape()) +
                                      ", the base has " + shape_string(t.shape()));
    }
    if (c.tensors().size() != base.tensors().size()) {
      std::string extra;
      for (const Tensor& t : c.tensors())
        if (!base.find(t.name())) {
          extra = t.name();
          break;
        }
      throw bad_input(c.path(), std::to_string(c.tensors().size()) + " tensors, the base (" + base.path().string() +
                                    ") has " + std::to_string(base.tensors().size()) +
                                    (extra.empty() ? std::string() : "; '" + extra + "' is not in the base"));
    }
  }
}

}  // namespace paramscope
