// The CUDA runtime as the emulated kernels see it: a test-only execution layer under which the
// custom kernels' real source (cuda/*.cu) compiles as host C++ and runs on the CPU.
//
// A launch runs its blocks one after another. Each block's threads are fibers on one OS thread,
// run in increasing (or, set_schedule, decreasing) thread order, each until it finishes or waits:
// at __syncthreads() (released when every live thread of the block has arrived at the same one)
// or at a warp shuffle (released when every lane its mask names has arrived; a lane outside the
// mask, a lane that exited, or lanes that disagree on the mask are errors). Running one end of
// the block ahead of the rest is what exposes a missing barrier: in increasing order thread 0
// reads shared memory its neighbours have not written yet (a reduction tree); in decreasing order
// the others read what thread 0 has not written yet (a broadcast). Tests run both. `__shared__` variables
// are function-local statics, shared by a block's fibers (and holding the previous block's values
// when a block starts, as real shared memory holds garbage); built-in indices are per fiber. Kernels must not rely on more than this model gives: no atomics, no
// cooperative groups, no dynamic shared memory. Errors (deadlock, a bad mask, a thrown
// exception) end the launch with a scenecam::Error naming the block, thread and cause.
#pragma once

#include <math.h>
#include <stdint.h>

#include <cfloat>
#include <cstring>
#include <functional>

#include "emulator.hpp"

#if !defined(SCENECAM_CUDA_EMULATION)
#error "tests/emu/cuda_runtime.h is the emulated CUDA runtime; build with SCENECAM_CUDA_EMULATION"
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) {
  return float4{x, y, z, w};
}

// The running fiber's indices; the scheduler sets them before it resumes a fiber.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;
constexpr int warpSize = 32;

using cudaStream_t = struct CUstream_st*;
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidConfiguration = 9 };
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);

namespace scenecam::emu {

// Runs `thread_body` once per thread of a grid of `grid` blocks of `block` threads. Throws
// scenecam::Error when a thread throws, deadlocks or breaks a shuffle's rules.
void launch(dim3 grid, dim3 block, const std::function<void()>& thread_body);

// Waits for every live thread of the block at the same barrier (the body of __syncthreads();
// file and line name the barrier).
void sync_block(const char* file, int line);

enum class ShuffleKind { index, down, up, xor_lanes };
// One lane's part of a warp shuffle of a value of up to 8 bytes; returns the bytes it receives.
uint64_t shuffle(ShuffleKind kind, unsigned mask, uint64_t bits, int arg, int width);



}  // namespace scenecam::emu

// A macro, so that each barrier is named by its place in the source whatever the inlining; the
// clobbers make the compiler reload shared memory, which the other fibers change.
#define __syncthreads()                                \
  do {                                                 \
    asm volatile("" ::: "memory");                     \
    ::scenecam::emu::sync_block(__FILE__, __LINE__);   \
    asm volatile("" ::: "memory");                     \
  } while (0)

namespace scenecam::emu {
template <typename T>
T shuffle_value(ShuffleKind kind, unsigned mask, T value, int arg, int width) {
  static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = shuffle(kind, mask, bits, arg, width);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace scenecam::emu

template <typename T>
T __shfl_sync(unsigned mask, T value, int src_lane, int width = warpSize) {
  return scenecam::emu::shuffle_value(scenecam::emu::ShuffleKind::index, mask, value, src_lane,
                                      width);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  return scenecam::emu::shuffle_value(scenecam::emu::ShuffleKind::down, mask, value, int(delta),
                                      width);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  return scenecam::emu::shuffle_value(scenecam::emu::ShuffleKind::up, mask, value, int(delta),
                                      width);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize) {
  return scenecam::emu::shuffle_value(scenecam::emu::ShuffleKind::xor_lanes, mask, value,
                                      lane_mask, width);
}
