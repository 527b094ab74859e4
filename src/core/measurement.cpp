// The benchmarks' view of a backend (internal/measurement.hpp).
#include "internal/measurement.hpp"

#include <chrono>

namespace scenecam {

double wall_seconds(Backend& backend, const std::function<void()>& fn) {
  backend.synchronize();
  const auto start = std::chrono::steady_clock::now();
  fn();
  backend.synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

BackendMeasurement& measurement_of(Backend& backend) {
  auto* m = dynamic_cast<BackendMeasurement*>(&backend);
  SC_CHECK(m != nullptr, "the ", backend.name(), " backend has no timing or algorithm report");
  return *m;
}

}  // namespace scenecam
