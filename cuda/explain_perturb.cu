// The perturbed copies of the many-forward explanations (Backend::explain_perturb): one thread
// per output element, the per-element rule cam_math.hpp's perturb_element, shared with the CPU
// backend, so noise, masks and patches are made where the forwards run.
#include <cmath>

#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void explain_perturb_kernel(const float* __restrict__ x, const float* __restrict__ plan,
                                       const float* __restrict__ base,
                                       const float* __restrict__ maps, float* __restrict__ out,
                                       int64_t M, int64_t N, int64_t C, int64_t H, int64_t W,
                                       int64_t m, int64_t h, int64_t w, uint64_t seed) {
  const int64_t total = M * C * H * W, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t j = i / (C * H * W), c = (i / (H * W)) % C, y = (i / W) % H, xx = i % W;
    const float* row = plan + j * kPlanFields;
    if (!perturb_row_valid(row, N, m)) {
      out[i] = NAN;
      continue;
    }
    const int64_t src = int64_t(row[0]);
    out[i] = perturb_element(row, x[((src * C + c) * H + y) * W + xx], base[c], c, y, xx, H, W,
                             maps + src * m * h * w, h, w, seed, i);
  }
}

}  // namespace

void launch_explain_perturb(const float* x, const float* plan, const float* base, const float* maps,
                            float* out, int64_t M, int64_t N, int64_t C, int64_t H, int64_t W,
                            int64_t m, int64_t h, int64_t w, uint64_t seed, cudaStream_t stream) {
  if (M * C * H * W == 0) return;
  launch_kernel(explain_perturb_kernel, grid_for(M * C * H * W), kBlock, stream, x, plan, base,
                maps, out, M, N, C, H, W, m, h, w, seed);
}

}  // namespace scenecam::cuda
