// Raw maps of the gradient-based CAM methods (formulas in scenecam/explain.hpp). Weighted methods
// (gradcam, gradcam++, xgradcam) first reduce each [h, w] plane to one channel weight, one warp
// per plane; then every method sums over channels with one thread per output pixel, so adjacent
// threads read adjacent addresses.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void cam_weights_kernel(int method, const float* __restrict__ acts,
                                   const float* __restrict__ grads, float* __restrict__ weights,
                                   int64_t planes, int64_t hw) {
  const int64_t plane = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (plane >= planes) return;
  const float* A = acts + plane * hw;
  const float* G = grads + plane * hw;
  float sum_a = 0;
  for (int64_t i = lane; i < hw; i += kWarp)
    sum_a += A[i];
  sum_a = warp_sum(sum_a);
  float weight = 0;
  for (int64_t i = lane; i < hw; i += kWarp) {
    const float g = G[i];
    if (method == 0) {
      weight += g;
    } else if (method == 1) {
      const float g2 = g * g, g3 = g2 * g;
      const float a = g != 0 ? g2 / (2 * g2 + sum_a * g3 + 1e-6f) : 0.0f;
      weight += fmaxf(g, 0.0f) * a;
    } else {
      weight += g * A[i] / (sum_a + 1e-7f);
    }
  }
  weight = warp_sum(weight);
  if (lane == 0) weights[plane] = method == 0 ? weight / float(hw) : weight;
}

__global__ void cam_sum_kernel(int method, const float* __restrict__ acts,
                               const float* __restrict__ grads, const float* __restrict__ weights,
                               float* __restrict__ cam, int64_t n, int64_t c, int64_t hw) {
  const int64_t total = n * hw, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t image = i / hw, pixel = i % hw;
    float sum = 0;
    for (int64_t k = 0; k < c; ++k) {
      const int64_t at = (image * c + k) * hw + pixel;
      if (method == 3)
        sum += grads[at] * acts[at];
      else if (method == 4)
        sum += fmaxf(grads[at], 0.0f) * acts[at];
      else
        sum += weights[image * c + k] * acts[at];
    }
    cam[i] = fmaxf(sum, 0.0f);
  }
}

}  // namespace

void launch_cam_maps(int method, const float* acts, const float* grads, float* weights, float* cam,
                     int64_t n, int64_t c, int64_t hw, cudaStream_t stream) {
  if (n * c == 0) return;
  if (method <= 2) {
    const auto blocks = static_cast<unsigned>((n * c + kWarpsPerBlock - 1) / kWarpsPerBlock);
    launch_kernel(cam_weights_kernel, blocks, kBlock, stream, method, acts, grads, weights, n * c,
                  hw);
  }
  launch_kernel(cam_sum_kernel, grid_for(n * hw), kBlock, stream, method, acts, grads, weights, cam,
                n, c, hw);
}

}  // namespace scenecam::cuda
