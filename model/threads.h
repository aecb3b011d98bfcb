// The process's compute threads. LibTorch runs its parallel kernels (and the decoder's
// generation-path kernels) on its OpenMP pool; Debian's OpenBLAS, which LibTorch calls for
// matrix products, keeps a second pool of its own that at::set_num_threads does not bound. So
// that "N threads" means N cores, both are set here.
#pragma once

namespace ponder::model {

// The cores this process may run on (its CPU affinity), at least 1.
int AvailableCores();

// Sets LibTorch's intra-op threads and, when the BLAS in use is OpenBLAS (looked up at run
// time), OpenBLAS's threads to `threads`; threads <= 0 means AvailableCores(). Returns the
// number set.
int SetComputeThreads(int threads);

}  // namespace ponder::model
