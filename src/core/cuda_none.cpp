// The CUDA backend's door in a build without it (SCENECAM_WITH_CUDA=OFF or no nvcc).
#include "library_peers.hpp"
#include "scenecam/cuda_backend.hpp"

namespace scenecam {

bool cuda_available(std::string* why) {
  *why = "this build of scenecam has no CUDA backend (built without nvcc/cuDNN)";
  return false;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions&) {
  fail("this build of scenecam has no CUDA backend (built without nvcc/cuDNN)");
}

const char* library_peer_name(LibraryPeer) {
  return "none";
}

void run_library_peer(Backend&, LibraryPeer, const Tensor&, const Tensor&, const Tensor&) {
  fail("this build of scenecam has no CUDA backend (built without nvcc/cuDNN)");
}

}  // namespace scenecam
