// Checked calls into CUDA, cuDNN and cuBLAS. Every call goes through one of these macros, which
// throw a scenecam::Error naming file:line, the call and the library's error string; after every
// kernel launch, SC_CUDA_CHECK_LAUNCH() reports a bad configuration at the launch site.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "scenecam/error.hpp"

namespace scenecam::cuda {

[[noreturn]] inline void throw_cuda(const char* file, int line, const char* call,
                                    const char* what) {
  fail(file, ":", line, ": ", call, " failed: ", what);
}

inline const char* cublas_error_string(cublasStatus_t s) {
  return cublasGetStatusString(s);
}

}  // namespace scenecam::cuda

#define SC_CUDA_CHECK(call)                                                                    \
  do {                                                                                         \
    const cudaError_t sc_status_ = (call);                                                     \
    if (sc_status_ != cudaSuccess)                                                             \
      ::scenecam::cuda::throw_cuda(__FILE__, __LINE__, #call, cudaGetErrorString(sc_status_)); \
  } while (0)

#define SC_CUDA_CHECK_LAUNCH() SC_CUDA_CHECK(cudaGetLastError())

#define SC_CUDNN_CHECK(call)                                                                    \
  do {                                                                                          \
    const cudnnStatus_t sc_status_ = (call);                                                    \
    if (sc_status_ != CUDNN_STATUS_SUCCESS)                                                     \
      ::scenecam::cuda::throw_cuda(__FILE__, __LINE__, #call, cudnnGetErrorString(sc_status_)); \
  } while (0)

#define SC_CUBLAS_CHECK(call)                                                          \
  do {                                                                                 \
    const cublasStatus_t sc_status_ = (call);                                          \
    if (sc_status_ != CUBLAS_STATUS_SUCCESS)                                           \
      ::scenecam::cuda::throw_cuda(__FILE__, __LINE__, #call,                          \
                                   ::scenecam::cuda::cublas_error_string(sc_status_)); \
  } while (0)
