// Optimizer updates: one launch over a whole flat parameter arena (weights, gradients and state
// share one layout), each thread applying the shared per-element step of elementwise.hpp. The
// step's numbers come by value, or from device memory (the fields of sgd_step_to_fields and
// adamw_step_to_fields), which a recorded step reads afresh at each replay.
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

SCENECAM_HD SgdStep read_step(const SgdStep& s) { return s; }
SCENECAM_HD AdamWStep read_step(const AdamWStep& s) { return s; }
struct SgdFields {
  const float* f;
};
struct AdamWFields {
  const float* f;
};
SCENECAM_HD SgdStep read_step(SgdFields s) { return sgd_step_from_fields(s.f); }
SCENECAM_HD AdamWStep read_step(AdamWFields s) { return adamw_step_from_fields(s.f); }

template <typename StepSource>
__global__ void sgd_kernel(float* __restrict__ params, const float* __restrict__ grads,
                           float* __restrict__ momentum, int64_t n, StepSource source) {
  const SgdStep step = read_step(source);
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float unused = 0;
    sgd_update_element(params[i], grads[i], momentum ? momentum[i] : unused, step);
  }
}

template <typename StepSource>
__global__ void adamw_kernel(float* __restrict__ params, const float* __restrict__ grads,
                             float* __restrict__ m, float* __restrict__ v, int64_t n,
                             StepSource source) {
  const AdamWStep step = read_step(source);
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    adamw_update_element(params[i], grads[i], m[i], v[i], step);
}

}  // namespace

void launch_sgd_update(float* params, const float* grads, float* momentum, int64_t n,
                       const SgdStep& step, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(sgd_kernel<SgdStep>, grid_for(n), kBlock, stream, params, grads, momentum, n, step);
}

void launch_sgd_update(float* params, const float* grads, float* momentum, int64_t n,
                       const float* step_fields, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(sgd_kernel<SgdFields>, grid_for(n), kBlock, stream, params, grads, momentum, n,
                SgdFields{step_fields});
}

void launch_adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                         const AdamWStep& step, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(adamw_kernel<AdamWStep>, grid_for(n), kBlock, stream, params, grads, m, v, n,
                step);
}

void launch_adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                         const float* step_fields, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel(adamw_kernel<AdamWFields>, grid_for(n), kBlock, stream, params, grads, m, v, n,
                AdamWFields{step_fields});
}

}  // namespace scenecam::cuda
