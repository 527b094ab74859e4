// The CUDA backend's hooks for the benchmarks (std only: no CUDA header), kept out of the public
// API: the cuDNN and cuBLAS routines that do some of our custom kernels' jobs. In a build without
// the CUDA backend run_library_peer answers "not available" in one line.
#pragma once

#include "scenecam/backend.hpp"

namespace scenecam {

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
