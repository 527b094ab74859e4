// make_backend: one door from a RuntimeConfig to the CPU or the CUDA backend.
#include "scenecam/backends.hpp"

#include <cstdio>

#include "scenecam/cuda_backend.hpp"

namespace scenecam {

std::unique_ptr<Backend> make_backend(const RuntimeConfig& r, const std::string& setting) {
  std::string why;
  CudaOptions o;
  o.workspace_limit_bytes = static_cast<size_t>(r.workspace_limit_mb) << 20;
  if (r.device.rfind("cuda", 0) == 0) {
    SC_CHECK(cuda_available(&why), setting, " is '", r.device, "' but ", why);
    o.device = Device::parse(r.device).index;
    return make_cuda_backend(o);
  }
  SC_CHECK(r.device == "auto" || r.device == "cpu", setting, " is '", r.device,
           "'; expected auto, cpu, cuda or cuda:N");
  if (r.device == "auto") {
    if (cuda_available(&why)) {
      std::printf("device: auto -> cuda:0\n");
      return make_cuda_backend(o);
    }
    std::printf("device: auto -> cpu (%s)\n", why.c_str());
  }
  return make_cpu_backend(r.threads);
}

}  // namespace scenecam
