// Runs a parser in a forked child first, so that a crash or hang inside a third-party library
// (libhdf5 1.10 has memory-safety bugs on corrupted files) becomes an error, not a dead process.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "paramscope/error.h"

namespace paramscope {

struct IsolatedFailure {
  Error::Kind kind;     ///< of the Error fn threw; BadInput for a crash or a hang
  std::string message;  ///< the Error's message, or "crashed (Segmentation fault)", "did not finish within 60 s"
  bool crashed;         ///< true for a crash or a hang, false when fn threw
};

/// Calls fn in a child process and returns nullopt if it returned normally. The caller must not
/// hold locks that fn takes, other than recursive ones it holds itself (the child is a copy of
/// the calling thread only). If the process cannot fork, fn is not run and nullopt is returned.
std::optional<IsolatedFailure> run_isolated(const std::function<void()>& fn, std::chrono::seconds timeout);

}  // namespace paramscope
