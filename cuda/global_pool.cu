// Global average pooling (forward, backward) and the Grad-CAM weighted channel sum.
// Forward gives each [H, W] plane one warp, which sums it with shuffles; the backward and the
// weighted sum give each output element one thread, so consecutive threads touch consecutive
// addresses.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void global_avg_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                               int64_t planes, int64_t hw) {
  const int64_t plane = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (plane >= planes) return;
  const float* in = x + plane * hw;
  float sum = 0;
  for (int64_t i = lane; i < hw; i += kWarp)
    sum += in[i];
  sum = warp_sum(sum);
  if (lane == 0) y[plane] = sum / float(hw);
}

__global__ void global_avg_pool_backward_kernel(const float* __restrict__ dy,
                                                float* __restrict__ dx, int64_t planes,
                                                int64_t hw) {
  const int64_t n = planes * hw, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = dy[i / hw] / float(hw);
}

__global__ void cam_weighted_sum_relu_kernel(const float* __restrict__ acts,
                                             const float* __restrict__ weights,
                                             float* __restrict__ cam, int64_t n, int64_t c,
                                             int64_t hw) {
  const int64_t total = n * hw, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t image = i / hw, pixel = i % hw;
    const float* a = acts + image * c * hw + pixel;
    const float* w = weights + image * c;
    float sum = 0;
    for (int64_t k = 0; k < c; ++k)
      sum += w[k] * a[k * hw];
    cam[i] = relu_element(sum);
  }
}

}  // namespace

void launch_global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t hw,
                                    cudaStream_t stream) {
  if (planes == 0) return;
  const auto blocks = static_cast<unsigned>((planes + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_kernel(global_avg_pool_forward_kernel, blocks, kBlock, stream, x, y, planes, hw);
}

void launch_global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t hw,
                                     cudaStream_t stream) {
  if (planes * hw == 0) return;
  launch_kernel(global_avg_pool_backward_kernel, grid_for(planes * hw), kBlock, stream, dy, dx,
                planes, hw);
}

void launch_cam_weighted_sum_relu(const float* acts, const float* weights, float* cam, int64_t n,
                                  int64_t c, int64_t hw, cudaStream_t stream) {
  if (n * hw == 0) return;
  launch_kernel(cam_weighted_sum_relu_kernel, grid_for(n * hw), kBlock, stream, acts, weights, cam,
                n, c, hw);
}

}  // namespace scenecam::cuda
