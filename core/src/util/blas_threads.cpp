#include "util/blas_threads.h"

#include <algorithm>

// OpenBLAS's own thread control (also declared by its cblas.h; not by other vendors' headers).
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

namespace paramscope::blas {
namespace {

class Gate {
 public:
  static Gate& instance() {
    static Gate g;
    return g;
  }
  std::shared_mutex& mutex() { return mutex_; }
  int threads() const { return threads_; }

 private:
  // OpenBLAS starts with every core's thread; one per caller is the shared default.
  Gate() : threads_(std::max(1, openblas_get_num_threads())) { openblas_set_num_threads(1); }
  std::shared_mutex mutex_;
  int threads_;
};

}  // namespace

OneThread::OneThread() : lock_(Gate::instance().mutex()) {}

AllThreads::AllThreads() : lock_(Gate::instance().mutex()) {
  openblas_set_num_threads(Gate::instance().threads());
}

AllThreads::~AllThreads() {
  openblas_set_num_threads(1);
}

}  // namespace paramscope::blas
