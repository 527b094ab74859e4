// The execution layer behind tests/emu/cuda_runtime.h: blocks run one after another, a block's
// threads are ucontext fibers on the calling OS thread, and a small scheduler releases them from
// __syncthreads() and warp shuffles. See the header for the model and its limits.
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "cuda_runtime.h"
#include "scenecam/error.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define SCENECAM_EMU_ASAN 1
#endif

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace scenecam::emu {
namespace {

#if defined(SCENECAM_EMU_ASAN)
constexpr size_t kStackBytes = size_t(256) << 10;  // AddressSanitizer's frames are larger
#else
constexpr size_t kStackBytes = size_t(128) << 10;
#endif
constexpr unsigned kMaxThreadsPerBlock = 1024;

enum class State { ready, at_barrier, at_shuffle, done };

struct Fiber {
  ucontext_t context{};
  std::unique_ptr<char[]> stack;
  State state = State::done;
  uint3 index;
  int linear = 0;
  const char* barrier_file = nullptr;  // which __syncthreads() it waits at
  int barrier_line = 0;
  ShuffleKind kind = ShuffleKind::index;
  unsigned mask = 0;
  uint64_t bits = 0, result = 0;
  int arg = 0, width = warpSize;
  void* asan_fake_stack = nullptr;
};

struct Scheduler {
  ucontext_t main{};
  std::vector<Fiber> fibers;
  Fiber* current = nullptr;
  const std::function<void()>* body = nullptr;
  std::exception_ptr error;
  int error_thread = -1;
  const void* main_stack_bottom = nullptr;
  size_t main_stack_size = 0;
  void* main_fake_stack = nullptr;
  cudaError_t last_error = cudaSuccess;
  LaunchStats stats;
  Schedule schedule = Schedule::increasing;
  std::vector<std::pair<int, std::function<void()>>> after_launch;
  int next_hook = 0;
};

thread_local Scheduler t_sched;

void start_switch(void** fake_stack, const void* bottom, size_t size) {
#if defined(SCENECAM_EMU_ASAN)
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
#else
  (void)fake_stack, (void)bottom, (void)size;
#endif
}

void finish_switch(void* fake_stack, const void** bottom, size_t* size) {
#if defined(SCENECAM_EMU_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack, bottom, size);
#else
  (void)fake_stack, (void)bottom, (void)size;
#endif
}

// From a fiber back to the scheduler; `exiting` fibers never come back.
void yield_to_scheduler(Fiber& f, bool exiting) {
  Scheduler& s = t_sched;
  start_switch(exiting ? nullptr : &f.asan_fake_stack, s.main_stack_bottom, s.main_stack_size);
  swapcontext(&f.context, &s.main);
  finish_switch(f.asan_fake_stack, nullptr, nullptr);
}

void fiber_main() {
  Scheduler& s = t_sched;
  finish_switch(nullptr, &s.main_stack_bottom, &s.main_stack_size);
  Fiber& f = *s.current;
  try {
    (*s.body)();
  } catch (...) {
    if (!s.error) {
      s.error = std::current_exception();
      s.error_thread = f.linear;
    }
  }
  f.state = State::done;
  yield_to_scheduler(f, true);
}

void resume(Fiber& f) {
  Scheduler& s = t_sched;
  s.current = &f;
  threadIdx = f.index;
  start_switch(&s.main_fake_stack, f.stack.get(), kStackBytes);
  swapcontext(&s.main, &f.context);
  finish_switch(s.main_fake_stack, nullptr, nullptr);
  s.current = nullptr;
}

std::string block_name() {
  return "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
         std::to_string(blockIdx.z) + ")";
}

[[noreturn]] void launch_error(const std::string& what) {
  fail("emulated kernel launch of ", gridDim.x * gridDim.y * gridDim.z, " blocks of ",
       blockDim.x * blockDim.y * blockDim.z, " threads: ", block_name(), ": ", what);
}

std::string hex(unsigned mask) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", mask);
  return text;
}

// The lane (within its warp) whose value `lane` receives, or -1 when it keeps its own.
int source_lane(const Fiber& f, int lane) {
  const int width = f.width, base = lane / width * width, offset = lane % width;
  switch (f.kind) {
    case ShuffleKind::index:
      return base + ((f.arg % width) + width) % width;
    case ShuffleKind::down:
      return offset + f.arg < width ? lane + f.arg : -1;
    case ShuffleKind::up:
      return offset >= f.arg ? lane - f.arg : -1;
    case ShuffleKind::xor_lanes: {  // PTX: a partner past the segment's end keeps its own
      const int target = lane ^ (f.arg & (warpSize - 1));
      return target < base + width ? target : -1;
    }
  }
  return -1;
}

// Checks the shuffle that lane `first` of `warp` waits at against every lane its mask names;
// when all of them wait at it, hands each its value and makes them ready.
void release_shuffle(int warp, int lanes, Fiber* w, int first) {
  const Fiber& lead = w[first];
  const unsigned mask = lead.mask;
  const std::string who = "thread " + std::to_string(lead.linear) + " (lane " +
                          std::to_string(first) + " of warp " + std::to_string(warp) + ")";
  if (!(mask >> first & 1u))
    launch_error(who + " calls a warp shuffle with mask " + hex(mask) + ", which leaves it out");
  if (lead.width < 1 || lead.width > warpSize || (lead.width & (lead.width - 1)) != 0)
    launch_error(who + ": shuffle width " + std::to_string(lead.width) + " is not a power of two");
  for (int lane = 0; lane < warpSize; ++lane) {
    if (!(mask >> lane & 1u)) continue;
    const std::string named =
        "mask " + hex(mask) + " of " + who + " names lane " + std::to_string(lane);
    if (lane >= lanes) launch_error(named + ", which this block does not have");
    const Fiber& f = w[lane];
    if (f.state == State::done) launch_error(named + ", which has exited");
    if (f.state == State::at_barrier) launch_error(named + ", which waits at __syncthreads()");
    if (f.mask != mask || f.kind != lead.kind || f.width != lead.width)
      launch_error(named + ", which waits at a different shuffle (mask " + hex(f.mask) + ")");
  }
  for (int lane = 0; lane < lanes; ++lane) {
    if (!(mask >> lane & 1u)) continue;
    Fiber& f = w[lane];
    const int src = source_lane(f, lane);
    if (src >= 0 && !(mask >> src & 1u))
      launch_error("lane " + std::to_string(lane) + " of warp " + std::to_string(warp) +
                   " reads lane " + std::to_string(src) + ", which its shuffle's mask " +
                   hex(mask) + " leaves out");
    f.result = src >= 0 ? w[src].bits : f.bits;
  }
  for (int lane = 0; lane < lanes; ++lane)
    if (mask >> lane & 1u) w[lane].state = State::ready;
}

// Releases every shuffle that all its lanes have reached; true when any was released.
bool release_shuffles(int threads) {
  Scheduler& s = t_sched;
  bool released = false;
  for (int warp = 0; warp * warpSize < threads; ++warp) {
    Fiber* w = &s.fibers[size_t(warp) * warpSize];
    const int lanes = std::min(warpSize, threads - warp * warpSize);
    for (int lane = 0; lane < lanes; ++lane)
      if (w[lane].state == State::at_shuffle) {
        release_shuffle(warp, lanes, w, lane);
        released = true;
      }
  }
  return released;
}

// Releases __syncthreads() when every live thread waits at the same one; throws on a deadlock.
void release_barrier(int threads) {
  Scheduler& s = t_sched;
  int waiting = 0, live = 0;
  const Fiber* first = nullptr;
  for (int t = 0; t < threads; ++t) {
    const Fiber& f = s.fibers[t];
    if (f.state == State::done) continue;
    ++live;
    if (f.state != State::at_barrier) continue;
    if (waiting++ == 0) first = &f;
    if (f.barrier_line != first->barrier_line || std::strcmp(f.barrier_file, first->barrier_file))
      launch_error("thread " + std::to_string(t) + " waits at the __syncthreads() of " +
                   f.barrier_file + ":" + std::to_string(f.barrier_line) + ", thread " +
                   std::to_string(first->linear) + " at " + first->barrier_file + ":" +
                   std::to_string(first->barrier_line) + " (a barrier in divergent code)");
  }
  if (waiting != live)
    launch_error("deadlock: " + std::to_string(waiting) + " of " + std::to_string(live) +
                 " live threads wait at __syncthreads(), the rest at warp shuffles");
  for (int t = 0; t < threads; ++t)
    if (s.fibers[t].state == State::at_barrier) s.fibers[t].state = State::ready;
}

void start_fibers(int threads, dim3 block) {
  Scheduler& s = t_sched;
  if (s.fibers.size() < size_t(threads)) s.fibers.resize(threads);
  for (int t = 0; t < threads; ++t) {
    Fiber& f = s.fibers[t];
    if (!f.stack) f.stack.reset(new char[kStackBytes]);
    f.linear = t;
    f.index = uint3{unsigned(t) % block.x, unsigned(t) / block.x % block.y,
                    unsigned(t) / (block.x * block.y)};
    f.state = State::ready;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = nullptr;
    makecontext(&f.context, fiber_main, 0);
  }
}

void run_block(int threads, dim3 block) {
  Scheduler& s = t_sched;
  start_fibers(threads, block);
  const bool decreasing = s.schedule == Schedule::decreasing;
  for (;;) {
    for (int i = 0; i < threads; ++i) {
      const int t = decreasing ? threads - 1 - i : i;
      if (s.fibers[t].state != State::ready) continue;
      resume(s.fibers[t]);
      if (s.error) {
        try {
          std::rethrow_exception(s.error);
        } catch (const std::exception& e) {
          launch_error("thread " + std::to_string(s.error_thread) + " threw: " + e.what());
        }
      }
    }
    bool all_done = true;
    for (int t = 0; t < threads; ++t)
      all_done = all_done && s.fibers[t].state == State::done;
    if (all_done) return;
    if (!release_shuffles(threads)) release_barrier(threads);
  }
}

}  // namespace

void launch(dim3 grid, dim3 block, const std::function<void()>& thread_body) {
  Scheduler& s = t_sched;
  SC_CHECK(s.current == nullptr, "emulated kernel launch from inside a kernel");
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || blocks == 0 || grid.y > 65535 ||
      grid.z > 65535 || block.z > 64) {
    s.last_error = cudaErrorInvalidConfiguration;  // as the runtime reports a bad launch
    return;
  }
  gridDim = grid;
  blockDim = block;
  s.body = &thread_body;
  s.error = nullptr;
  ++s.stats.launches;
  s.stats.threads += int64_t(threads * blocks);
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = uint3{x, y, z};
        run_block(int(threads), block);
      }
  s.body = nullptr;
  for (const auto& [token, hook] : s.after_launch)
    hook();
}

int add_after_launch(std::function<void()> hook) {
  Scheduler& s = t_sched;
  s.after_launch.emplace_back(s.next_hook, std::move(hook));
  return s.next_hook++;
}

void remove_after_launch(int token) {
  auto& hooks = t_sched.after_launch;
  hooks.erase(std::remove_if(hooks.begin(), hooks.end(),
                             [token](const auto& h) { return h.first == token; }),
              hooks.end());
}

void set_schedule(Schedule schedule) {
  t_sched.schedule = schedule;
}

void sync_block(const char* file, int line) {
  Scheduler& s = t_sched;
  SC_CHECK(s.current != nullptr, "__syncthreads() outside an emulated kernel");
  Fiber& f = *s.current;
  f.barrier_file = file;
  f.barrier_line = line;
  f.state = State::at_barrier;
  yield_to_scheduler(f, false);
}

uint64_t shuffle(ShuffleKind kind, unsigned mask, uint64_t bits, int arg, int width) {
  Scheduler& s = t_sched;
  SC_CHECK(s.current != nullptr, "warp shuffle outside an emulated kernel");
  Fiber& f = *s.current;
  f.kind = kind;
  f.mask = mask;
  f.bits = bits;
  f.arg = arg;
  f.width = width;
  f.state = State::at_shuffle;
  yield_to_scheduler(f, false);
  return f.result;
}

LaunchStats launch_stats() {
  return t_sched.stats;
}

}  // namespace scenecam::emu

cudaError_t cudaGetLastError() {
  const cudaError_t e = scenecam::emu::t_sched.last_error;
  scenecam::emu::t_sched.last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
  }
  return "unknown error";
}
