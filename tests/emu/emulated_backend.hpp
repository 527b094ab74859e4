// The emulated kernel backend: the CUDA backend's custom-kernel half (KernelBackend, with its
// argument checks, launchers and the kernels' real source from cuda/) compiled as host C++ over
// the test-only execution layer (cuda_runtime.h beside this file), on host memory. What the GPU
// leaves to cuDNN and cuBLAS (convolution, batch-norm training and forward, max pooling) runs on
// the CPU reference instead; the dense layer's matrix products are plain loops, its bias kernels
// ours. Every pool it makes puts guard bytes after each tensor, checked after every kernel launch,
// so a kernel that writes past a tensor fails the launch naming the tensor.
#pragma once

#include <memory>

#include "scenecam/backend.hpp"

namespace scenecam {

std::unique_ptr<Backend> make_emulated_kernel_backend();

}  // namespace scenecam
