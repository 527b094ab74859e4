// Grad-CAM map scaling on the device: per image min-max at feature resolution, bilinear resize
// with half-pixel centres (cv2.resize's rule), ReLU, min-max again. One block per image for the
// two reductions (maps are small: at most a few hundred thousand pixels), one thread per output
// pixel for the resize.
#include <cfloat>

#include "launch.cuh"

namespace scenecam::cuda {
namespace {

// Block-wide min and max of x[0, n); every thread gets both.
__device__ void block_min_max(const float* x, int64_t n, float* lo, float* hi) {
  __shared__ float smin[kBlock], smax[kBlock];
  float a = FLT_MAX, b = -FLT_MAX;
  for (int64_t i = threadIdx.x; i < n; i += kBlock) {
    a = fminf(a, x[i]);
    b = fmaxf(b, x[i]);
  }
  smin[threadIdx.x] = a;
  smax[threadIdx.x] = b;
  __syncthreads();
  for (unsigned width = kBlock / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) {
      smin[threadIdx.x] = fminf(smin[threadIdx.x], smin[threadIdx.x + width]);
      smax[threadIdx.x] = fmaxf(smax[threadIdx.x], smax[threadIdx.x + width]);
    }
    __syncthreads();
  }
  *lo = smin[0];
  *hi = smax[0];
  __syncthreads();
}

// x -> (x - min) / (max - min + 1e-7), into out or in place (out == in, so neither pointer is
// __restrict__), one block per image.
__global__ void min_max_kernel(const float* in, float* out, int64_t per) {
  const float* x = in + blockIdx.x * per;
  float* y = out + blockIdx.x * per;
  float lo, hi;
  block_min_max(x, per, &lo, &hi);
  for (int64_t i = threadIdx.x; i < per; i += kBlock)
    y[i] = (x[i] - lo) / (hi - lo + 1e-7f);
}

__global__ void resize_relu_kernel(const float* __restrict__ small, float* __restrict__ big,
                                   int64_t n, int64_t h, int64_t w, int64_t H, int64_t W) {
  const int64_t total = n * H * W, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t img = i / (H * W), y = (i / W) % H, x = i % W;
    const float fy = fminf(fmaxf((y + 0.5f) * float(h) / float(H) - 0.5f, 0.0f), float(h - 1));
    const float fx = fminf(fmaxf((x + 0.5f) * float(w) / float(W) - 0.5f, 0.0f), float(w - 1));
    const int64_t y0 = int64_t(fy), x0 = int64_t(fx);
    const int64_t y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
    const float ay = fy - float(y0), ax = fx - float(x0);
    const float* m = small + img * h * w;
    const float v = (1 - ay) * ((1 - ax) * m[y0 * w + x0] + ax * m[y0 * w + x1]) +
                    ay * ((1 - ax) * m[y1 * w + x0] + ax * m[y1 * w + x1]);
    big[i] = fmaxf(v, 0.0f);
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
