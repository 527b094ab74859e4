// show_cam_on_image for a batch on the device: each image's maximum blend value (one block per
// image), then one thread per output byte. The arithmetic is cam_blend_element(), shared with the
// CPU backend.
#include <cfloat>

#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void blend_max_kernel(const float* __restrict__ maps, const uint8_t* __restrict__ images,
                                 const uint8_t* __restrict__ lut, float weight,
                                 float* __restrict__ hi, int64_t per) {
  const float* m = maps + blockIdx.x * per;
  const uint8_t* px = images + blockIdx.x * per * 3;
  float best = 0;
  for (int64_t i = threadIdx.x; i < per * 3; i += kBlock)
    best = fmaxf(best, cam_blend_element(m[i / 3], lut, px[i], int(i % 3), weight));
  best = block_reduce(best, MaxOp{}, 0.0f);
  if (threadIdx.x == 0) hi[blockIdx.x] = best;
}

__global__ void blend_write_kernel(const float* __restrict__ maps,
                                   const uint8_t* __restrict__ images,
                                   const uint8_t* __restrict__ lut, float weight,
                                   const float* __restrict__ hi, uint8_t* __restrict__ out,
                                   int64_t n, int64_t per) {
  const int64_t total = n * per * 3, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t image = i / (per * 3);
    const float v = cam_blend_element(maps[i / 3], lut, images[i], int(i % 3), weight);
    out[i] = static_cast<uint8_t>(255.0f * (v / hi[image]));
  }
}

}  // namespace

void launch_cam_overlay(const float* maps, const uint8_t* images, const uint8_t* lut, float weight,
                        float* hi, uint8_t* out, int64_t n, int64_t per, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(blend_max_kernel, static_cast<unsigned>(n), kBlock, stream, maps, images, lut,
                weight, hi, per);
  launch_kernel(blend_write_kernel, grid_for(n * per * 3), kBlock, stream, maps, images, lut,
                weight, hi, out, n, per);
}

}  // namespace scenecam::cuda
