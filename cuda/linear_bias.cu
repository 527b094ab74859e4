// The dense layer's bias: added to every row in the forward, summed over the rows for its
// gradient. (The matrix products themselves are cuBLAS calls in cuda_backend.cpp.)
#include "launch.cuh"

namespace scenecam::cuda {
namespace {

__global__ void add_bias_rows_kernel(float* __restrict__ y, const float* __restrict__ b,
                                     int64_t rows, int64_t cols) {
  const int64_t n = rows * cols, stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] += b[i % cols];
}

// One thread per column, walking down the rows: adjacent threads read adjacent addresses, and the
// sum's order is fixed, so the result is deterministic.
__global__ void sum_rows_kernel(const float* __restrict__ dy, float* __restrict__ db, int64_t rows,
                                int64_t cols) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  float sum = 0;
  for (int64_t r = 0; r < rows; ++r)
    sum += dy[r * cols + col];
  db[col] = sum;
}

}  // namespace

void launch_add_bias_rows(float* y, const float* b, int64_t rows, int64_t cols,
                          cudaStream_t stream) {
  if (rows * cols == 0) return;
  launch_kernel(add_bias_rows_kernel, grid_for(rows * cols), kBlock, stream, y, b, rows, cols);
}

void launch_sum_rows(const float* dy, float* db, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (cols == 0) return;
  launch_kernel(sum_rows_kernel, static_cast<unsigned>((cols + kBlock - 1) / kBlock), kBlock,
                stream, dy, db, rows, cols);
}

}  // namespace scenecam::cuda
