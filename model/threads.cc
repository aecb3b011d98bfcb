#include "model/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>

namespace ponder::model {

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

int SetComputeThreads(int threads) {
  const int n = threads > 0 ? threads : AvailableCores();
  at::set_num_threads(n);
  // OpenBLAS's own pool; absent (null) with another BLAS.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(n);
  }
  return n;
}

}  // namespace ponder::model
