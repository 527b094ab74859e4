// What cuda_backend.cpp shares with the benchmark hooks (bench_hooks.cpp): a CUDA backend's
// handles and the text that names a cuDNN convolution algorithm.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "scenecam/backend.hpp"

namespace scenecam::cuda {

struct DeviceHandles {
  cudnnHandle_t dnn;
  cublasHandle_t blas;
  cudaStream_t stream;
  Device device;
};

// The handles of a CUDA backend; throws Error naming `what` when `backend` is of another kind.
DeviceHandles device_handles(Backend& backend, const char* what);

// "IMPLICIT_PRECOMP_GEMM (fma math, ws 1.5 MiB)": cuDNN's algorithm `algo` of that pass.
std::string conv_algorithm_text(ConvPass pass, int algo, cudnnMathType_t math, size_t workspace);

}  // namespace scenecam::cuda
