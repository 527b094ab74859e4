// What a backend can tell the benchmarks about its own work. This is not part of the Backend
// interface the engine runs on: both backends implement it beside Backend, and measurement_of()
// finds it. The benchmarks and the parity tests are its only callers.
#pragma once

#include <functional>
#include <string>

#include "scenecam/backend.hpp"

namespace scenecam {

class BackendMeasurement {
 public:
  virtual ~BackendMeasurement() = default;

  // The seconds the work `fn` queues on this backend takes. The CPU backend runs ops
  // synchronously, so that is the wall clock around fn; the CUDA backend records events on its
  // stream before and after fn and waits for the second, so host-side launch gaps before fn are
  // not counted.
  virtual double time_seconds(const std::function<void()>& fn) = 0;

  // How this backend computes a pass of the convolution of x [N, C, H, W] with w [O, C, kh, kw].
  // The CPU backend answers with its method; the CUDA backend names the cuDNN algorithm it has
  // chosen (and caches).
  virtual std::string conv_algorithm(const Conv2dParams& p, const Shape& x, const Shape& w,
                                     ConvPass pass) = 0;
};

// The measurement side of `backend`; throws Error naming the backend when it has none.
BackendMeasurement& measurement_of(Backend& backend);

// The wall clock around fn, between two synchronize() calls on `backend`.
double wall_seconds(Backend& backend, const std::function<void()>& fn);

}  // namespace scenecam
