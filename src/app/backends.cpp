// make_backend: one door from a RuntimeConfig to the CPU or the CUDA backend.
#include "scenecam/backends.hpp"

#include <cstdio>

#include "scenecam/cuda_backend.hpp"

namespace scenecam {

std::unique_ptr<Backend> make_backend(const RuntimeConfig& r, const std::string& setting) {
  std::string why;
  CudaOptions o;
  o.workspace_limit_bytes = static_cast<size_t>(r.workspace_limit_mb) << 20;
  switch (r.device.kind) {
    case DeviceChoice::Kind::cuda:
      SC_CHECK(cuda_available(&why), setting, " is '", r.device.str(), "' but ", why);
      o.device = r.device.index;
      return make_cuda_backend(o);
    case DeviceChoice::Kind::automatic:
      // On stderr: the choice is a diagnostic, and stdout may be a program's records.
      if (cuda_available(&why)) {
        std::fprintf(stderr, "device: auto -> cuda:0\n");
        return make_cuda_backend(o);
      }
      std::fprintf(stderr, "device: auto -> cpu (%s)\n", why.c_str());
      break;
    case DeviceChoice::Kind::cpu:
      break;
  }
  return make_cpu_backend(r.threads);
}

}  // namespace scenecam
