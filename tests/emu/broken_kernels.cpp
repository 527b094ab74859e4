// The broken kernels of broken_kernels.hpp, compiled like cuda/*.cu over the emulated runtime.
// Each `bug` flag switches in the one defect; everything else is the real kernel's text.
#include "broken_kernels.hpp"

#include "launch.cuh"

namespace scenecam::broken {
namespace {

using cuda::kBlock;
using cuda::kWarp;
using cuda::kWarpsPerBlock;
using cuda::launch_kernel;

__global__ void mean_kernel(const float* __restrict__ values, float* __restrict__ out, int64_t n,
                            bool bug) {
  __shared__ float partial[kBlock];
  float sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += kBlock)
    sum += values[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned width = kBlock / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    if (!bug) __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = partial[0] / float(n);
}

__global__ void avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx,
                                         int64_t planes, int64_t hw, bool bug) {
  const int64_t n = planes * hw, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; bug ? i <= n : i < n;
       i += stride)
    dx[i] = dy[i / hw] / float(hw);
}

__device__ inline float warp_sum(float v, unsigned mask) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(mask, v, offset);
  return v;
}

__global__ void avg_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                        int64_t planes, int64_t hw, bool bug) {
  const int64_t plane = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (plane >= planes) return;
  const float* in = x + plane * hw;
  float sum = 0;
  for (int64_t i = lane; i < hw; i += kWarp)
    sum += in[i];
  sum = warp_sum(sum, bug ? 0x0000ffffu : 0xffffffffu);
  if (lane == 0) y[plane] = sum / float(hw);
}

__global__ void broadcast_kernel(const float* __restrict__ value, float* __restrict__ out,
                                 bool bug) {
  __shared__ float doubled;
  if (threadIdx.x == 0) doubled = 2 * value[0];
  if (!bug) __syncthreads();
  out[threadIdx.x] = doubled;
}

__global__ void empty_kernel() {}

}  // namespace

void broadcast(const float* value, float* out, bool missing_sync) {
  launch_kernel(broadcast_kernel, 1, kBlock, nullptr, value, out, missing_sync);
}

void launch_with_threads(unsigned threads) {
  launch_kernel(empty_kernel, 1, threads, nullptr);
}

void block_mean(const float* values, float* out, int64_t n, bool missing_sync) {
  launch_kernel(mean_kernel, 1, kBlock, nullptr, values, out, n, missing_sync);
}

void avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t hw, bool off_by_one) {
  launch_kernel(avg_pool_backward_kernel, cuda::grid_for(planes * hw), kBlock, nullptr, dy, dx,
                planes, hw, off_by_one);
}

void avg_pool_forward(const float* x, float* y, int64_t planes, int64_t hw, bool half_mask) {
  const auto blocks = static_cast<unsigned>((planes + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_kernel(avg_pool_forward_kernel, blocks, kBlock, nullptr, x, y, planes, hw, half_mask);
}

}  // namespace scenecam::broken
