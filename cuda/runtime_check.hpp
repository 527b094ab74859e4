// Checked calls into the CUDA runtime: SC_CUDA_CHECK throws a scenecam::Error naming file:line,
// the call and the runtime's error string; after every kernel launch SC_CUDA_CHECK_LAUNCH()
// reports a bad configuration at the launch site. The kernels need only this header, so they
// also compile as host C++ against the test-only execution layer (tests/emu/).
#pragma once

#include <cuda_runtime.h>

#include "scenecam/error.hpp"

namespace scenecam::cuda {

[[noreturn]] inline void throw_cuda(const char* file, int line, const char* call,
                                    const char* what) {
  fail(file, ":", line, ": ", call, " failed: ", what);
}

}  // namespace scenecam::cuda

#define SC_CUDA_CHECK(call)                                                                    \
  do {                                                                                         \
    const cudaError_t sc_status_ = (call);                                                     \
    if (sc_status_ != cudaSuccess)                                                             \
      ::scenecam::cuda::throw_cuda(__FILE__, __LINE__, #call, cudaGetErrorString(sc_status_)); \
  } while (0)

#define SC_CUDA_CHECK_LAUNCH() SC_CUDA_CHECK(cudaGetLastError())
