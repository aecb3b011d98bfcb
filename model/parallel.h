// A parallel loop on LibTorch's thread pool for code compiled without OpenMP.
//
// at::parallel_for is a header template: in a translation unit compiled without -fopenmp
// (ours are) it runs the whole range on the calling thread. ParallelFor is compiled with
// -fopenmp and runs on the same OpenMP pool as LibTorch's own kernels, with
// at::get_num_threads() threads, so the process keeps one pool.
#pragma once

#include <cstdint>
#include <functional>

namespace ponder::model {

// Calls f(b, e) on contiguous chunks covering [begin, end), one per thread, each at least
// `grain` long where possible (grain >= range: on the calling thread alone). Exceptions
// thrown by f are rethrown on the calling thread.
void ParallelFor(int64_t begin, int64_t end, int64_t grain,
                 const std::function<void(int64_t, int64_t)>& f);

}  // namespace ponder::model
