// scenecam-gpu-probe: what the GPU machine offers, in one short run. Prints the card, the driver
// and runtime versions, the cuDNN and cuBLAS versions actually loaded, runs one kernel through
// the element-wise math the CPU backend shares (an SGD step), and creates a cuDNN and a cuBLAS
// handle. Exit code 0 only when all of that worked; without a GPU it says so in one line, exit 3.
#include <cstdio>
#include <vector>

#include "check.hpp"
#include "scenecam/elementwise.hpp"

namespace {

constexpr int kBlock = 256;

__global__ void sgd_probe_kernel(float* w, const float* g, float* buf, int n, scenecam::SgdStep s) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) scenecam::sgd_update_element(w[i], g[i], buf[i], s);
}

int run() {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    std::printf("gpu-probe: no CUDA device available (%s)\n",
                status == cudaSuccess ? "0 devices" : cudaGetErrorString(status));
    return 3;
  }
  int driver = 0, runtime = 0;
  SC_CUDA_CHECK(cudaDriverGetVersion(&driver));
  SC_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  cudaDeviceProp prop{};
  SC_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("gpu-probe: device 0 of %d: %s, compute capability %d.%d, %.1f GiB, %d SMs\n",
              devices, prop.name, prop.major, prop.minor, prop.totalGlobalMem / 1073741824.0,
              prop.multiProcessorCount);
  std::printf("gpu-probe: CUDA driver %d.%d, runtime %d.%d\n", driver / 1000, driver % 1000 / 10,
              runtime / 1000, runtime % 1000 / 10);
  std::printf("gpu-probe: cuDNN %zu (headers %d), cuBLAS runtime ", cudnnGetVersion(),
              CUDNN_VERSION);

  cublasHandle_t blas = nullptr;
  SC_CUBLAS_CHECK(cublasCreate(&blas));
  int blas_version = 0;
  SC_CUBLAS_CHECK(cublasGetVersion(blas, &blas_version));
  std::printf("%d\n", blas_version);
  cudnnHandle_t dnn = nullptr;
  SC_CUDNN_CHECK(cudnnCreate(&dnn));

  // One SGD step over a size that is not a multiple of the block, against the host result.
  const int n = 1000;
  std::vector<float> w(n, 1.0f), g(n, 0.5f), buf(n, 0.0f);
  float *dw, *dg, *dbuf;
  SC_CUDA_CHECK(cudaMalloc(&dw, n * sizeof(float)));
  SC_CUDA_CHECK(cudaMalloc(&dg, n * sizeof(float)));
  SC_CUDA_CHECK(cudaMalloc(&dbuf, n * sizeof(float)));
  SC_CUDA_CHECK(cudaMemcpy(dw, w.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  SC_CUDA_CHECK(cudaMemcpy(dg, g.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  SC_CUDA_CHECK(cudaMemcpy(dbuf, buf.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  const scenecam::SgdStep step{0.1f, 0.9f, 0.01f, false, false};
  sgd_probe_kernel<<<(n + kBlock - 1) / kBlock, kBlock>>>(dw, dg, dbuf, n, step);
  SC_CUDA_CHECK_LAUNCH();
  SC_CUDA_CHECK(cudaMemcpy(w.data(), dw, n * sizeof(float), cudaMemcpyDeviceToHost));
  float host_w = 1.0f, host_buf = 0.0f;
  scenecam::sgd_update_element(host_w, 0.5f, host_buf, step);
  int wrong = 0;
  for (float v : w)
    wrong += v != host_w;
  std::printf("gpu-probe: SGD kernel on %d elements: %s (%.6f, host %.6f)\n", n,
              wrong ? "MISMATCH" : "matches the host", w[n - 1], host_w);

  SC_CUDA_CHECK(cudaFree(dw));
  SC_CUDA_CHECK(cudaFree(dg));
  SC_CUDA_CHECK(cudaFree(dbuf));
  SC_CUDNN_CHECK(cudnnDestroy(dnn));
  SC_CUBLAS_CHECK(cublasDestroy(blas));
  return wrong ? 1 : 0;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const scenecam::Error& e) {
    std::fprintf(stderr, "gpu-probe: %s\n", e.what());
    return 1;
  }
}
