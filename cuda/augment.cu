// The input pipeline's kernels. Augmentation: uint8 RGB images [*, S, S, 3] and one
// SampleTransform per batch sample -> normalised float NCHW, one thread per output element, the
// per-pixel arithmetic augmented_pixel(), shared with the CPU backend. For a dataset resident on
// the device, the batch's transforms and labels are drawn first, one thread per sample, by
// draw_sample_transform (also shared), and the augmentation reads each sample's image through
// the batch's order.
#include <cmath>

#include "launch.cuh"

namespace scenecam::cuda {
namespace {

// Output sample `image` reads image order[image] of the `count` stored (image itself when order
// is null); an index outside them gives NaN.
__global__ void augment_kernel(const uint8_t* __restrict__ images,
                               const int32_t* __restrict__ order, int64_t count,
                               const SampleTransform* __restrict__ transforms, Normalization norm,
                               float* __restrict__ out, int64_t n, int size) {
  const int64_t plane_size = int64_t(size) * size, total = n * 3 * plane_size;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t plane = i / plane_size, image = plane / 3;
    const int64_t source = order ? int64_t(order[image]) : image;
    if (source < 0 || source >= count) {
      out[i] = NAN;
      continue;
    }
    const int c = int(plane % 3), y = int((i % plane_size) / size), x = int(i % size);
    const float v =
        augmented_pixel(images + source * plane_size * 3, size, transforms[image], x, y, c);
    // The same rounding as the CPU backend: v * scale - shift.
    const float scale = 1.0f / (255.0f * norm.std[c]), shift = norm.mean[c] / norm.std[c];
    out[i] = v * scale - shift;
  }
}

__global__ void draw_batch_kernel(const int32_t* __restrict__ all_labels, int64_t count,
                                  const int32_t* __restrict__ order, AugmentParams augment,
                                  uint64_t epoch_seed, int size,
                                  SampleTransform* __restrict__ transforms,
                                  int32_t* __restrict__ labels, int64_t n) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const int64_t source = order[k];
    const bool valid = source >= 0 && source < count;
    transforms[k] = draw_sample_transform(augment, size, sample_seed(epoch_seed, source));
    labels[k] = valid ? all_labels[source] : -1;
  }
}

}  // namespace

void launch_augment(const uint8_t* images, const int32_t* order, int64_t count,
                    const float* transforms, const Normalization& norm, float* out, int64_t n,
                    int size, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(augment_kernel, grid_for(n * 3 * int64_t(size) * size), kBlock, stream, images,
                order, count, reinterpret_cast<const SampleTransform*>(transforms), norm, out, n,
                size);
}

void launch_draw_batch(const int32_t* all_labels, int64_t count, const int32_t* order,
                       const AugmentParams& augment, uint64_t epoch_seed, int size,
                       float* transforms, int32_t* labels, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(draw_batch_kernel, grid_for(n), kBlock, stream, all_labels, count, order, augment,
                epoch_seed, size, reinterpret_cast<SampleTransform*>(transforms), labels, n);
}

}  // namespace scenecam::cuda
