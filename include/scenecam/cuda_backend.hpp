// The CUDA backend's door for the rest of the engine (std only: no CUDA header leaks out).
// In a build without the CUDA backend these answer "not available" in one line.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "scenecam/backend.hpp"

namespace scenecam {

struct CudaOptions {
  int device = 0;
  size_t workspace_limit_bytes = size_t(1) << 30;  // cap on one convolution's cuDNN workspace
  // TF32 tensor cores for convolutions and the dense layer (PyTorch's default for cuDNN); off
  // gives IEEE float32 products, which the parity tests use.
  bool allow_tf32 = true;
};

// True when this build has the CUDA backend and a usable device exists; otherwise false with a
// one-line reason in *why.
bool cuda_available(std::string* why);

// The CUDA backend on options.device; throws Error when cuda_available() would say no.
std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options = {});

}  // namespace scenecam
