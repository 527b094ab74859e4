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

// cuDNN and cuBLAS routines that do the same jobs as some of our custom kernels, issued on a
// CUDA backend's stream with its handles, so that `scenecam-bench kernels` can time the library
// beside our kernel. Float32 NCHW tensors on the backend's device.
enum class LibraryPeer {
  op_tensor_add_relu,   // y = relu(a + b): cudnnOpTensor(ADD) then cudnnActivationForward in place
  add_tensor,           // y += a: cudnnAddTensor
  axpy,                 // y += a: cublasSaxpy
  activation_backward,  // y = dx of ReLU from its output a and gradient b: cudnnActivationBackward
  avg_pool_forward,     // y [N, C] = mean over H x W of a [N, C, H, W]: cudnnPoolingForward
  avg_pool_backward,  // y [N, C, H, W] = a [N, C] / (H W): cudnnPoolingBackward (b: any [N,C,H,W])
};
const char* library_peer_name(LibraryPeer peer);
// Throws Error when `backend` is not a CUDA backend.
void run_library_peer(Backend& backend, LibraryPeer peer, const Tensor& a, const Tensor& b,
                      const Tensor& y);

}  // namespace scenecam
