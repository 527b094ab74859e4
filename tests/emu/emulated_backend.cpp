// The emulated kernel backend (see the header). Built with SCENECAM_CUDA_EMULATION, so
// kernel_backend.hpp finds the emulated cuda_runtime.h.
#include "emulated_backend.hpp"

#include <memory>
#include <set>

#include "internal/measurement.hpp"
#include "kernel_backend.hpp"
#include "kernels.hpp"

namespace scenecam {
namespace {

class EmulatedKernelBackend;

// Host memory whose pool is known to the backend while it lives, so guards can be checked.
class TrackedAllocator final : public RawAllocator {
 public:
  explicit TrackedAllocator(std::shared_ptr<std::set<const Pool*>> live) : live_(std::move(live)) {}
  ~TrackedAllocator() override { live_->erase(pool); }
  void* allocate(size_t bytes) override { return host_.allocate(bytes); }
  void deallocate(void* ptr) override { host_.deallocate(ptr); }
  Device device() const override { return Device::cpu(); }
  const Pool* pool = nullptr;

 private:
  HostAllocator host_;
  std::shared_ptr<std::set<const Pool*>> live_;  // outlives the backend if a pool does
};

class EmulatedKernelBackend final : public KernelBackend, public BackendMeasurement {
 public:
  EmulatedKernelBackend() : KernelBackend(Device::cpu()), cpu_(make_cpu_backend(1)) {
    workspace_ = make_pool("emulated workspace", 0, true);
    hook_ = emu::add_after_launch([pools = pools_] {
      for (const Pool* p : *pools)
        p->check_guards();
    });
  }
  ~EmulatedKernelBackend() override {
    emu::remove_after_launch(hook_);
    workspace_.reset();
  }

  std::string name() const override { return "emulated-cuda"; }
  PoolStats workspace_stats() const override { return workspace_->stats(); }
  std::unique_ptr<Pool> make_pool(std::string name, size_t capacity, bool growable) override {
    auto allocator = std::make_unique<TrackedAllocator>(pools_);
    TrackedAllocator* tracked = allocator.get();
    // A fixed pool gets room for the guards of up to 64 tensors; growable pools grow.
    const size_t guards = growable ? 0 : 64 * (Pool::kGuardBytes + kPoolAlignment);
    auto pool = std::make_unique<Pool>(std::move(name), std::move(allocator),
                                       capacity == 0 ? 0 : capacity + guards, growable);
    pool->enable_guards();
    tracked->pool = pool.get();
    pools_->insert(pool.get());
    return pool;
  }
  double time_seconds(const std::function<void()>& fn) override {
    return wall_seconds(*this, fn);
  }
  std::string conv_algorithm(const Conv2dParams& p, const Shape& x, const Shape& w,
                             ConvPass pass) override {
    return "cpu reference: " + measurement_of(*cpu_).conv_algorithm(p, x, w, pass);
  }

  void copy(const Tensor& src, const Tensor& dst) override { cpu_->copy(src, dst); }

  void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                      const Tensor& y) override {
    cpu_->conv2d_forward(p, x, w, y);
  }
  void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w,
                            const Tensor& dx) override {
    cpu_->conv2d_backward_data(p, dy, w, dx);
  }
  void conv2d_backward_filter(const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                              const Tensor& dw) override {
    cpu_->conv2d_backward_filter(p, x, dy, dw);
  }
  void batch_norm_forward_training(const BatchNormParams& p, const Tensor& x, const Tensor& gamma,
                                   const Tensor& beta, const Tensor& running_mean,
                                   const Tensor& running_var, const Tensor& y,
                                   const Tensor& save_mean, const Tensor& save_invstd) override {
    cpu_->batch_norm_forward_training(p, x, gamma, beta, running_mean, running_var, y, save_mean,
                                      save_invstd);
  }
  void batch_norm_forward_inference(const BatchNormParams& p, const Tensor& x, const Tensor& gamma,
                                    const Tensor& beta, const Tensor& running_mean,
                                    const Tensor& running_var, const Tensor& y) override {
    cpu_->batch_norm_forward_inference(p, x, gamma, beta, running_mean, running_var, y);
  }
  void batch_norm_backward(const BatchNormParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                           const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) override {
    cpu_->batch_norm_backward(p, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  }
  void max_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y) override {
    cpu_->max_pool2d_forward(p, x, y);
  }
  void max_pool2d_backward(const Pool2dParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& dx) override {
    cpu_->max_pool2d_backward(p, x, dy, dx);
  }

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) override;
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                       const Tensor& dw, const Tensor& db) override;

 private:
  std::shared_ptr<std::set<const Pool*>> pools_ = std::make_shared<std::set<const Pool*>>();
  int hook_ = -1;
  std::unique_ptr<Backend> cpu_;
};

// c[i, j] = sum_k a[i*sai + k*sak] * b[k*sbk + j*sbj]: the three products of the dense layer.
void matmul(const float* a, int64_t sai, int64_t sak, const float* b, int64_t sbk, int64_t sbj,
            float* c, int64_t rows, int64_t inner, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      double sum = 0;
      for (int64_t k = 0; k < inner; ++k)
        sum += double(a[i * sai + k * sak]) * b[k * sbk + j * sbj];
      c[i * cols + j] = float(sum);
    }
}

void EmulatedKernelBackend::linear_forward(const Tensor& x, const Tensor& w, const Tensor& b,
                                           const Tensor& y) {
  const auto [N, in, out] = check_linear_forward(x, w, b, y);
  matmul(x.data<float>(), in, 1, w.data<float>(), 1, in, y.data<float>(), N, in, out);
  cuda::launch_add_bias_rows(y.data<float>(), b.data<float>(), N, out, stream_);
}

void EmulatedKernelBackend::linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy,
                                            const Tensor& dx, const Tensor& dw, const Tensor& db) {
  const auto [N, in, out] = check_linear_backward(x, w, dy, dx, dw, db);
  if (dx.defined())  // dx[N, in] = dy[N, out] w[out, in]
    matmul(dy.data<float>(), out, 1, w.data<float>(), in, 1, dx.data<float>(), N, out, in);
  if (dw.defined())  // dw[out, in] = dy^T[out, N] x[N, in]
    matmul(dy.data<float>(), 1, out, x.data<float>(), in, 1, dw.data<float>(), out, N, in);
  if (db.defined()) cuda::launch_sum_rows(dy.data<float>(), db.data<float>(), N, out, stream_);
}

}  // namespace

std::unique_ptr<Backend> make_emulated_kernel_backend() {
  return std::make_unique<EmulatedKernelBackend>();
}

}  // namespace scenecam
