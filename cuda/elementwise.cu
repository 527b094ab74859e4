// Element-wise kernels: fill, accumulate, ReLU and the residual join. The arithmetic is the shared
// per-element functions of scenecam/elementwise.hpp; this file adds only indexing.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

struct ReluOp {
  __device__ float operator()(float x, float) const { return relu_element(x); }
};
struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct AddReluOp {
  __device__ float operator()(float a, float b) const { return add_relu_element(a, b); }
};

__global__ void fill_kernel(float* x, int64_t n, float value) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    x[i] = value;
}

__global__ void fill_i32_kernel(int32_t* x, int64_t n, int32_t value) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    x[i] = value;
}

__global__ void relu_backward_kernel(const float* __restrict__ y, const float* dy, float* dx,
                                     int64_t n) {
  // dy and dx may be the same buffer (the in-place backward of ReLU layers).
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = relu_backward_element(y[i], dy[i]);
}

}  // namespace

void launch_fill(float* x, int64_t n, float value, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(fill_kernel, grid_for(n), kBlock, stream, x, n, value);
}

void launch_fill_i32(int32_t* x, int64_t n, int32_t value, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(fill_i32_kernel, grid_for(n), kBlock, stream, x, n, value);
}

void launch_add_inplace(float* dst, const float* src, int64_t n, cudaStream_t stream) {
  launch_map2(dst, src, dst, n, AddOp{}, stream);
}

void launch_relu_forward(const float* x, float* y, int64_t n, cudaStream_t stream) {
  launch_map2(x, nullptr, y, n, ReluOp{}, stream);
}

void launch_relu_backward(const float* y, const float* dy, float* dx, int64_t n,
                          cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(relu_backward_kernel, grid_for(n), kBlock, stream, y, dy, dx, n);
}

void launch_add_relu_forward(const float* a, const float* b, float* y, int64_t n,
                             cudaStream_t stream) {
  launch_map2(a, b, y, n, AddReluOp{}, stream);
}

}  // namespace scenecam::cuda
