// Grad-CAM map scaling on the device: per image min-max at feature resolution, bilinear resize
// with half-pixel centres (cv2.resize's rule), ReLU, min-max again; the per-pixel maths is
// cam_math.hpp's, shared with the CPU backend. One block per image for the two reductions (maps
// are small: at most a few hundred thousand pixels), one thread per output pixel for the resize.
#include <cfloat>

#include "launch.cuh"

namespace scenecam::cuda {
namespace {

// x -> (x - min) / (max - min + 1e-7), into out or in place (out == in, so neither pointer is
// __restrict__), one block per image.
__global__ void min_max_kernel(const float* in, float* out, int64_t per) {
  const float* x = in + blockIdx.x * per;
  float* y = out + blockIdx.x * per;
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (int64_t i = threadIdx.x; i < per; i += kBlock) {
    lo = fminf(lo, x[i]);
    hi = fmaxf(hi, x[i]);
  }
  lo = block_reduce(lo, MinOp{}, FLT_MAX);
  hi = block_reduce(hi, MaxOp{}, -FLT_MAX);
  for (int64_t i = threadIdx.x; i < per; i += kBlock)
    y[i] = cam_min_max_element(x[i], lo, hi);
}

__global__ void resize_relu_kernel(const float* __restrict__ small, float* __restrict__ big,
                                   int64_t n, int64_t h, int64_t w, int64_t H, int64_t W) {
  const int64_t total = n * H * W, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t img = i / (H * W), y = (i / W) % H, x = i % W;
    big[i] = relu_element(resize_bilinear_pixel(small + img * h * w, h, w, H, W, x, y));
  }
}

}  // namespace

void launch_cam_scale(const float* cam, float* scratch, float* out, int64_t n, int64_t h, int64_t w,
                      int64_t H, int64_t W, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(min_max_kernel, static_cast<unsigned>(n), kBlock, stream, cam, scratch, h * w);
  launch_kernel(resize_relu_kernel, grid_for(n * H * W), kBlock, stream, scratch, out, n, h, w, H,
                W);
  launch_kernel(min_max_kernel, static_cast<unsigned>(n), kBlock, stream, out, out, H * W);
}

}  // namespace scenecam::cuda
