// Bar chart of the parameters in each block of a checkpoint (vtkChartXY on a vtkContextActor).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "paramscope/checkpoint.h"
#include "paramscope/figures/block_bars.h"
#include "paramscope/figures/scene.h"

namespace paramscope::figures {

class BlockChart final : public Scene {
public:
  BlockChart();
  ~BlockChart() override;

  /// Shows the blocks of checkpoint (copied: the checkpoint may go away afterwards) and resets
  /// any zoom. The title names the checkpoint's file.
  void set_checkpoint(const Checkpoint& checkpoint);
  /// Shows bars directly (the title is given).
  void set_bars(std::vector<BlockBar> bars, const std::string& title);
  /// Shows empty axes.
  void clear();

  std::size_t bar_count() const noexcept;

protected:
  void on_attach(vtkRenderWindow* window) override;
  void on_detach(vtkRenderWindow* window) override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramscope::figures
