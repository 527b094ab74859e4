// The CUDA runtime as the emulated kernels see it: a test-only execution layer under which the
// custom kernels' real source (cuda/*.cu) compiles as host C++ and runs on the CPU.
//
// A launch runs its blocks one after another. Each block's threads are fibers on one OS thread,
// run in increasing thread order, each until it finishes or waits: at __syncthreads() (released
// when every live thread of the block has arrived) or at a warp shuffle (released when every
// lane its mask names has arrived; a lane outside the mask, a lane that exited, or lanes that
// disagree on the mask are errors). Running thread 0 ahead of the rest is what exposes a missing
// barrier: it reads shared memory its neighbours have not written yet. `__shared__` variables
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

// Waits for every live thread of the block (the body of __syncthreads()).
void sync_block();

enum class ShuffleKind { index, down, up, xor_lanes };
// One lane's part of a warp shuffle of a value of up to 8 bytes; returns the bytes it receives.
uint64_t shuffle(ShuffleKind kind, unsigned mask, uint64_t bits, int arg, int width);

// Called after every launch (the emulated backend checks its pools' guard bytes there); empty
// to remove.
void set_after_launch(std::function<void()> hook);

// Launches and threads run since the process started (for tests of the layer itself).
struct LaunchStats {
  int64_t launches = 0;
  int64_t threads = 0;
};
LaunchStats launch_stats();

}  // namespace scenecam::emu

inline void __syncthreads() {
  asm volatile("" ::: "memory");  // shared memory is memory the other fibers change
  ::scenecam::emu::sync_block();
  asm volatile("" ::: "memory");
}

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
