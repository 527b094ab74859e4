// The emulated execution layer's settings, for tests (cuda_runtime.h, beside this file, is what
// the kernels see). No CUDA names here, so ordinary test files can include it.
#pragma once

#include <cstdint>
#include <functional>

namespace scenecam::emu {

enum class Schedule { increasing, decreasing };
// The order a block's runnable threads are resumed in, for the launches that follow
// (cuda_runtime.h says why both matter). Per OS thread; increasing until set.
void set_schedule(Schedule schedule);

// Hooks called after every launch (the emulated backend checks its pools' guard bytes there):
// add_after_launch returns a token for remove_after_launch.
int add_after_launch(std::function<void()> hook);
void remove_after_launch(int token);

// Launches and threads run since the process started (for tests of the layer itself).
struct LaunchStats {
  int64_t launches = 0;
  int64_t threads = 0;
};
LaunchStats launch_stats();

}  // namespace scenecam::emu
