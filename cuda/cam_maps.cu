// Raw maps of the gradient CAM methods; the per-pixel maths is cam_math.hpp's, shared with the
// CPU backend. Weighted methods (gradcam, gradcam++, xgradcam) first reduce each [h, w] plane to
// one channel weight, one warp per plane; then every method sums over channels with one thread
// per output pixel, so adjacent threads read adjacent addresses.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void cam_weights_kernel(CamMethod method, const float* __restrict__ acts,
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
  for (int64_t i = lane; i < hw; i += kWarp)
    weight += cam_weight_term(method, G[i], A[i], sum_a);
  weight = warp_sum(weight);
  if (lane == 0) weights[plane] = cam_channel_weight(method, weight, hw);
}

__global__ void cam_sum_kernel(CamMethod method, const float* __restrict__ acts,
                               const float* __restrict__ grads, const float* __restrict__ weights,
                               float* __restrict__ cam, int64_t n, int64_t c, int64_t hw) {
  const bool weighted = cam_uses_channel_weights(method);
  const int64_t total = n * hw, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t image = i / hw, pixel = i % hw;
    float sum = 0;
    for (int64_t k = 0; k < c; ++k) {
      const int64_t at = (image * c + k) * hw + pixel;
      sum += cam_sum_term(method, weighted ? weights[image * c + k] : 0.0f, grads[at], acts[at]);
    }
    cam[i] = relu_element(sum);
  }
}

}  // namespace

void launch_cam_maps(CamMethod method, const float* acts, const float* grads, float* weights,
                     float* cam, int64_t n, int64_t c, int64_t hw, cudaStream_t stream) {
  if (n * c == 0) return;
  if (cam_uses_channel_weights(method)) {
    const auto blocks = static_cast<unsigned>((n * c + kWarpsPerBlock - 1) / kWarpsPerBlock);
    launch_kernel(cam_weights_kernel, blocks, kBlock, stream, method, acts, grads, weights, n * c,
                  hw);
  }
  launch_kernel(cam_sum_kernel, grid_for(n * hw), kBlock, stream, method, acts, grads, weights, cam,
                n, c, hw);
}

}  // namespace scenecam::cuda
