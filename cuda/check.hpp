// Checked calls into cuDNN and cuBLAS (the runtime's are in runtime_check.hpp): the macros throw
// a scenecam::Error naming file:line, the call and the library's error string.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include "runtime_check.hpp"

namespace scenecam::cuda {

inline const char* cublas_error_string(cublasStatus_t s) {
  return cublasGetStatusString(s);
}

}  // namespace scenecam::cuda

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
