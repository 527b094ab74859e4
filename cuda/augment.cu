// Batch augmentation: uint8 RGB images [N, S, S, 3] and one SampleTransform per image (drawn on
// the host from the counter-based seed) -> normalised float NCHW. One thread per output element;
// the per-pixel arithmetic is augmented_pixel(), shared with the CPU backend.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void augment_kernel(const uint8_t* __restrict__ images,
                               const SampleTransform* __restrict__ transforms, Normalization norm,
                               float* __restrict__ out, int64_t n, int size) {
  const int64_t plane_size = int64_t(size) * size, total = n * 3 * plane_size;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t plane = i / plane_size, image = plane / 3;
    const int c = int(plane % 3), y = int((i % plane_size) / size), x = int(i % size);
    const float v =
        augmented_pixel(images + image * plane_size * 3, size, transforms[image], x, y, c);
    // The same rounding as the CPU backend: v * scale - shift.
    const float scale = 1.0f / (255.0f * norm.std[c]), shift = norm.mean[c] / norm.std[c];
    out[i] = v * scale - shift;
  }
}

}  // namespace

void launch_augment(const uint8_t* images, const float* transforms, const Normalization& norm,
                    float* out, int64_t n, int size, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(augment_kernel, grid_for(n * 3 * int64_t(size) * size), kBlock, stream, images,
                reinterpret_cast<const SampleTransform*>(transforms), norm, out, n, size);
}

}  // namespace scenecam::cuda
