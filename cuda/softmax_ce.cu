// Fused softmax cross-entropy: one warp per row computes the row's log-sum-exp, its loss against
// the (optionally smoothed) target and, when asked, its gradient (softmax - q) / rows; no
// probabilities are stored. A second, single-block kernel sums the row losses in a fixed order, so
// the mean loss is deterministic and stays on the device (no host synchronisation). The step's
// totals (loss, correct predictions, counts) are added on the device too, by one block.
#include <cmath>

#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void softmax_ce_rows_kernel(const float* __restrict__ logits,
                                       const int32_t* __restrict__ labels, float smoothing,
                                       float* __restrict__ row_loss, float* __restrict__ dlogits,
                                       int64_t rows, int64_t cols) {
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  const float* z = logits + row * cols;
  const int32_t label = labels[row];
  const float off = smoothing / float(cols), on = 1.0f - smoothing + off;

  float zmax = -INFINITY;
  for (int64_t k = lane; k < cols; k += kWarp)
    zmax = fmaxf(zmax, z[k]);
  zmax = warp_max(zmax);
  float sum = 0, target_dot = 0;
  for (int64_t k = lane; k < cols; k += kWarp) {
    sum += expf(z[k] - zmax);
    target_dot += (k == label ? on : off) * z[k];
  }
  sum = warp_sum(sum);
  target_dot = warp_sum(target_dot);
  const float lse = zmax + logf(sum);
  const bool valid = label >= 0 && label < cols;
  if (lane == 0) row_loss[row] = valid ? lse - target_dot : NAN;
  if (dlogits != nullptr) {
    float* d = dlogits + row * cols;
    for (int64_t k = lane; k < cols; k += kWarp)
      d[k] = valid ? (expf(z[k] - lse) - (k == label ? on : off)) / float(rows) : NAN;
  }
}

__global__ void mean_kernel(const float* __restrict__ values, float* __restrict__ out, int64_t n) {
  float sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += kBlock)
    sum += values[i];
  sum = block_reduce(sum, SumOp{}, 0.0f);
  if (threadIdx.x == 0) out[0] = sum / float(n);
}

// One block: each thread checks rows i, i + kBlock, ...; the block's count of right predictions is
// exact (a float holds integers to 2^24), and thread 0 adds the step to the totals.
__global__ void step_totals_kernel(const float* __restrict__ logits,
                                   const int32_t* __restrict__ labels,
                                   const float* __restrict__ loss, double* __restrict__ totals,
                                   int64_t rows, int64_t cols) {
  float correct = 0;
  for (int64_t i = threadIdx.x; i < rows; i += kBlock)
    correct += predicted_class(logits + i * cols, cols) == labels[i] ? 1.0f : 0.0f;
  correct = block_reduce(correct, SumOp{}, 0.0f);
  if (threadIdx.x == 0) add_step_totals(totals, double(loss[0]), rows, int64_t(correct));
}

}  // namespace

void launch_step_totals(const float* logits, const int32_t* labels, const float* loss,
                        double* totals, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows == 0) return;
  launch_kernel(step_totals_kernel, 1, kBlock, stream, logits, labels, loss, totals, rows, cols);
}

void launch_softmax_cross_entropy(const float* logits, const int32_t* labels, float smoothing,
                                  float* row_loss, float* loss, float* dlogits, int64_t rows,
                                  int64_t cols, cudaStream_t stream) {
  if (rows == 0) return;
  const auto blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_kernel(softmax_ce_rows_kernel, blocks, kBlock, stream, logits, labels, smoothing, row_loss,
                dlogits, rows, cols);
  launch_kernel(mean_kernel, 1, kBlock, stream, row_loss, loss, rows);
}

}  // namespace scenecam::cuda
