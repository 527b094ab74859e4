// Shared launch helpers for the custom kernels: the one launch function every kernel goes
// through, grid sizing, warp reductions and the element-wise map kernel with 16-byte vector loads
// (every pool block is 256-byte aligned, so arena tensors qualify).
//
// The same source compiles two ways: by nvcc for the GPU, and as host C++ under the test-only
// execution layer (tests/emu/, SCENECAM_CUDA_EMULATION), where launch_kernel runs each block's
// threads as fibers that meet at __syncthreads() and exchange values through warp shuffles.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels.hpp"
#include "runtime_check.hpp"

// The most blocks a grid-stride kernel is given. The emulated build lowers it (to an odd number)
// so that the grid-stride loops iterate at the small sizes CI can afford.
#ifndef SCENECAM_MAX_GRID_BLOCKS
#define SCENECAM_MAX_GRID_BLOCKS (1 << 16)
#endif

namespace scenecam::cuda {

// Blocks for a grid-stride loop over n items: enough to fill the device, never more than needed.
inline unsigned grid_for(int64_t n) {
  return static_cast<unsigned>(
      std::clamp<int64_t>((n + kBlock - 1) / kBlock, 1, SCENECAM_MAX_GRID_BLOCKS));
}

inline bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Launches kernel<<<blocks, threads, 0, stream>>>(args...) and checks the launch. Every kernel
// launch goes through here, so the launchers are the same code on the GPU and in the emulator.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), unsigned blocks, unsigned threads,
                   cudaStream_t stream, Args... args) {
#if defined(SCENECAM_CUDA_EMULATION)
  (void)stream;
  ::scenecam::emu::launch(dim3(blocks), dim3(threads), [&] { kernel(args...); });
#else
  // clang-format off
  kernel<<<blocks, threads, 0, stream>>>(args...);
  // clang-format on
#endif
  SC_CUDA_CHECK_LAUNCH();
}

// Warp reductions for kernels that give one warp a row or a plane; every lane gets the result.
constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = kBlock / kWarp;

__device__ inline float warp_sum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ inline float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MinOp {
  __device__ float operator()(float a, float b) const { return fminf(a, b); }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// The one block reduction: every thread of a kBlock-thread block passes its value and gets
// op over all of them; `identity` pads the second stage (0 for a sum). Warps reduce with
// shuffles, then every warp reduces the warps' results, so all threads return the same value. The
// order is fixed, so the result is deterministic. Every thread must call it.
template <typename Op>
__device__ float block_reduce(float v, Op op, float identity) {
  __shared__ float per_warp[kWarpsPerBlock];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  if (lane == 0) per_warp[warp] = v;
  __syncthreads();
  v = lane < kWarpsPerBlock ? per_warp[lane] : identity;
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  __syncthreads();  // per_warp is free for the next call once everyone has read it
  return v;
}

// y[i] = op(a[i], b[i]) for i < n (b may be null; y may alias a, as in dst += src). Threads take
// whole float4 groups first, then the last n % 4 elements one by one.
template <typename Op>
__global__ void map2_vec4_kernel(const float* a, const float* b, float* y, int64_t n, Op op) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t groups = n / 4;
  for (int64_t g = first; g < groups; g += stride) {
    const float4 va = reinterpret_cast<const float4*>(a)[g];
    const float4 vb = b ? reinterpret_cast<const float4*>(b)[g] : make_float4(0, 0, 0, 0);
    reinterpret_cast<float4*>(y)[g] =
        make_float4(op(va.x, vb.x), op(va.y, vb.y), op(va.z, vb.z), op(va.w, vb.w));
  }
  for (int64_t i = groups * 4 + first; i < n; i += stride)
    y[i] = op(a[i], b ? b[i] : 0.0f);
}

template <typename Op>
__global__ void map2_kernel(const float* a, const float* b, float* y, int64_t n, Op op) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = op(a[i], b ? b[i] : 0.0f);
}

template <typename Op>
void launch_map2(const float* a, const float* b, float* y, int64_t n, Op op, cudaStream_t stream) {
  if (n == 0) return;
  if (aligned16(a) && aligned16(y) && (b == nullptr || aligned16(b))) {
    launch_kernel(map2_vec4_kernel<Op>, grid_for(std::max<int64_t>(n / 4, 1)), kBlock, stream, a, b,
                  y, n, op);
  } else {
    launch_kernel(map2_kernel<Op>, grid_for(n), kBlock, stream, a, b, y, n, op);
  }
}

}  // namespace scenecam::cuda
