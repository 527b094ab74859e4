// Optimizer updates: one launch over a whole flat parameter arena (weights, gradients and state
// share one layout), each thread applying the shared per-element step of elementwise.hpp.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void sgd_kernel(float* __restrict__ params, const float* __restrict__ grads,
                           float* __restrict__ momentum, int64_t n, SgdStep step) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float unused = 0;
    sgd_update_element(params[i], grads[i], momentum ? momentum[i] : unused, step);
  }
}

__global__ void adamw_kernel(float* __restrict__ params, const float* __restrict__ grads,
                             float* __restrict__ m, float* __restrict__ v, int64_t n,
                             AdamWStep step) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    adamw_update_element(params[i], grads[i], m[i], v[i], step);
}

}  // namespace

void launch_sgd_update(float* params, const float* grads, float* momentum, int64_t n,
                       const SgdStep& step, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(sgd_kernel, grid_for(n), kBlock, stream, params, grads, momentum, n, step);
}

void launch_adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                         const AdamWStep& step, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(adamw_kernel, grid_for(n), kBlock, stream, params, grads, m, v, n, step);
}

}  // namespace scenecam::cuda
