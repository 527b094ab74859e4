// Deliberately broken test-only copies of real kernels' patterns, each beside a faithful copy, so
// the tests show what the emulated execution layer catches: a missing __syncthreads() in a
// reduction tree (softmax's block mean) and after a broadcast through shared memory, an
// off-by-one bound (global pooling's backward) and a shuffle mask that leaves lanes out (the warp
// sum of global pooling's forward). Host pointers; each runs one launch.
#pragma once

#include <cstdint>

namespace scenecam::broken {

// out[0] = mean of values[0, n), one block of 256 threads (softmax_ce.cu's mean_kernel).
void block_mean(const float* values, float* out, int64_t n, bool missing_sync);
// dx[i] = dy[i / hw] / hw for i < planes * hw (global_pool.cu's backward); the broken copy's
// loop runs to i <= planes * hw.
void avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t hw, bool off_by_one);
// y[p] = mean of plane p of x [planes, hw], one warp per plane (global_pool.cu's forward); the
// broken copy's warp sum passes mask 0x0000ffff.
void avg_pool_forward(const float* x, float* y, int64_t planes, int64_t hw, bool half_mask);

// out[t] = 2 * value[0] for the block's 256 threads, thread 0 broadcasting through shared memory;
// the broken copy has no barrier between its write and the others' reads.
void broadcast(const float* value, float* out, bool missing_sync);

// An empty kernel launched with one block of `threads` threads (over 1024 is a bad launch).
void launch_with_threads(unsigned threads);

}  // namespace scenecam::broken
