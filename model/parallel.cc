#include "model/parallel.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>

namespace ponder::model {

void ParallelFor(int64_t begin, int64_t end, int64_t grain,
                 const std::function<void(int64_t, int64_t)>& f) {
  if (begin >= end) return;
  const int64_t n = end - begin;
  // at::get_num_threads also sets this thread's OpenMP team size to LibTorch's count (a
  // thread that LibTorch has not seen yet starts with OpenMP's default).
  int64_t tasks = at::get_num_threads();
  if (grain > 0) tasks = std::min(tasks, (n + grain - 1) / grain);
  if (tasks <= 1 || omp_in_parallel()) {
    f(begin, end);
    return;
  }
  std::atomic_flag failed = ATOMIC_FLAG_INIT;
  std::exception_ptr error;
  // The whole team runs (changing team sizes makes GOMP rebuild its pool); threads past
  // `tasks` have no chunk.
#pragma omp parallel
  {
    const int64_t used = std::min<int64_t>(tasks, omp_get_num_threads());
    const int64_t chunk = (n + used - 1) / used;
    const int64_t b = begin + omp_get_thread_num() * chunk;
    if (omp_get_thread_num() < used && b < end) {
      try {
        f(b, std::min(end, b + chunk));
      } catch (...) {
        if (!failed.test_and_set()) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace ponder::model
