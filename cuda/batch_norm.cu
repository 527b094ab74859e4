// Batch norm's inference-mode backward (cuDNN has none): per channel, dx = dy * gamma / sqrt(var
// + eps), one thread per element.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void bn_backward_inference_kernel(const float* __restrict__ dy,
                                             const float* __restrict__ gamma,
                                             const float* __restrict__ var, float eps,
                                             float* __restrict__ dx, int64_t n, int64_t channels,
                                             int64_t hw) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t c = (i / hw) % channels;
    dx[i] = dy[i] * (gamma[c] / sqrtf(var[c] + eps));
  }
}

}  // namespace

void launch_batch_norm_backward_inference(const float* dy, const float* gamma, const float* var,
                                          float eps, float* dx, int64_t n, int64_t channels,
                                          int64_t hw, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(bn_backward_inference_kernel, grid_for(n), kBlock, stream, dy, gamma, var, eps, dx,
                n, channels, hw);
}

}  // namespace scenecam::cuda
