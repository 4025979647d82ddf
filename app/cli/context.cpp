#include "commands.h"

namespace paramscope::cli {

const Checkpoint& Context::open(const std::string& path) {
  auto& slot = opened_[path];
  if (!slot) slot = std::make_unique<Checkpoint>(open_checkpoint(path));
  return *slot;
}

ThreadPool& Context::pool() {
  if (threads <= 0) return ThreadPool::global();
  if (!pool_) pool_ = std::make_unique<ThreadPool>(threads);
  return *pool_;
}

void add_all_commands(CLI::App& app, Context& ctx) {
  add_inspect_command(app, ctx);
  add_criteria_command(app, ctx);
  add_importance_command(app, ctx);
  add_mask_command(app, ctx);
  add_compare_command(app, ctx);
  add_jobs_command(app, ctx);
  add_merge_command(app, ctx);
  add_interfere_command(app, ctx);
  add_run_command(app, ctx);
  add_calibrate_command(app, ctx);
  add_eval_command(app, ctx);
  add_attribute_command(app, ctx);
  add_evaluate_command(app, ctx);
  add_render_command(app, ctx);
}

}  // namespace paramscope::cli
