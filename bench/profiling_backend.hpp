// A Backend that forwards every op to another one and adds the time each op takes
// (BackendMeasurement::time_seconds: stream events on the GPU) to its layer type's total. The training
// benchmark runs a few extra steps through it to say where a step's time goes. Timing each op on
// its own adds a wait per op, so these steps are slower than the plain ones: the shares are the
// result, not the total.
#pragma once

#include <array>

#include "forwarding_backend.hpp"

namespace scenecam::bench {

class ProfilingBackend final : public ForwardingBackend {
 public:
  explicit ProfilingBackend(Backend& inner) : ForwardingBackend(inner) {}

  const std::array<double, kOpKinds>& seconds() const { return seconds_; }

 private:
  void forward_op(OpKind kind, std::function<void()> op) override {
    seconds_[static_cast<int>(kind)] += measurement_of(inner()).time_seconds(op);
  }

  std::array<double, kOpKinds> seconds_{};
};

}  // namespace scenecam::bench
