// CpuBackend: the reference implementation of the Backend seam.
//
// Plain C++ over row-major NCHW tensors, in float32 (training) and float64 (gradient checks):
// every op is a template on the scalar type, dispatched on the tensors' dtype. Matrix products go
// through Eigen (single-threaded inside; parallelism is ours, over the batch or the channels, with
// OpenMP). Scratch memory (im2col columns, per-thread filter-gradient partials) comes from a
// growable workspace pool that sizes itself on the first call of each shape and is then reused.
#pragma once

#include <omp.h>

#include <memory>

#include "internal/measurement.hpp"
#include "scenecam/backend.hpp"

namespace scenecam {

// Work below this many element-operations runs on the calling thread: waking the team costs more.
constexpr int64_t kParallelGrain = 1 << 15;

// Runs body(i) for every i in [0, count), each item costing about `item_cost` element-operations.
// Small work runs inline without entering the OpenMP runtime; large work is split into one
// contiguous range per thread. The team size never varies between calls, because libgomp
// allocates a new team whenever it does, and a training step must not reach malloc.
template <typename Body>
void parallel_for(int threads, int64_t count, int64_t item_cost, Body&& body) {
  if (threads <= 1 || count < 2 || count * item_cost < kParallelGrain) {
    for (int64_t i = 0; i < count; ++i)
      body(i);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t end = count * (t + 1) / nt;
    for (int64_t i = count * t / nt; i < end; ++i)
      body(i);
  }
}

// Calls f(T{}) with T = float or double to match a float op's dtype.
template <typename F>
void dispatch_float(DType dtype, F&& f) {
  if (dtype == DType::f32) {
    f(float{});
  } else {
    f(double{});
  }
}

class CpuBackend final : public Backend, public BackendMeasurement {
 public:
  explicit CpuBackend(int threads);

  Device device() const override { return Device::cpu(); }
  std::string name() const override { return "cpu"; }
  PoolStats workspace_stats() const override { return workspace_->stats(); }
  int threads() const { return threads_; }
  std::unique_ptr<Pool> make_pool(std::string name, size_t capacity, bool growable) override {
    return make_host_pool(std::move(name), capacity, growable);
  }

  void fill(const Tensor& t, double value) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void add_(const Tensor& dst, const Tensor& src) override;

  void gather_batch(const Tensor& images, const Tensor& all_labels, const Tensor& order,
                    const AugmentParams& augment, uint64_t epoch_seed, const Normalization& norm,
                    const Tensor& transforms, const Tensor& labels, const Tensor& out) override;
  void augment_batch(const Tensor& images, const Tensor& transforms, const Normalization& norm,
                     const Tensor& out) override;

  double time_seconds(const std::function<void()>& fn) override {
    return wall_seconds(*this, fn);
  }
  std::string conv_algorithm(const Conv2dParams& p, const Shape& x, const Shape& w,
                             ConvPass pass) override;
  void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                      const Tensor& y) override;
  void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w,
                            const Tensor& dx) override;
  void conv2d_backward_filter(const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                              const Tensor& dw) override;

  void batch_norm_forward_training(const BatchNormParams& p, const Tensor& x, const Tensor& gamma,
                                   const Tensor& beta, const Tensor& running_mean,
                                   const Tensor& running_var, const Tensor& y,
                                   const Tensor& save_mean, const Tensor& save_invstd) override;
  void batch_norm_forward_inference(const BatchNormParams& p, const Tensor& x, const Tensor& gamma,
                                    const Tensor& beta, const Tensor& running_mean,
                                    const Tensor& running_var, const Tensor& y) override;
  void batch_norm_backward_inference(const BatchNormParams& p, const Tensor& dy,
                                     const Tensor& gamma, const Tensor& running_var,
                                     const Tensor& dx) override;
  void batch_norm_backward(const BatchNormParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                           const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) override;

  void relu_forward(const Tensor& x, const Tensor& y) override;
  void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) override;
  void max_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y) override;
  void max_pool2d_backward(const Pool2dParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& dx) override;
  void global_avg_pool_forward(const Tensor& x, const Tensor& y) override;
  void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) override;

  void add_relu_forward(const Tensor& a, const Tensor& b, const Tensor& y) override;
  void add_relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dsum) override;

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) override;
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                       const Tensor& dw, const Tensor& db) override;

  void softmax_cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing,
                             const Tensor& loss, const Tensor& dlogits) override;
  void step_totals_acc(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                       const Tensor& totals) override;

  void sgd_update(const SgdParams& p, const Tensor& params, const Tensor& grads,
                  const Tensor& momentum_buf) override;
  void adamw_update(const AdamWParams& p, int64_t step, const Tensor& params, const Tensor& grads,
                    const Tensor& m, const Tensor& v) override;
  void sgd_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                       const Tensor& momentum_buf) override;
  void adamw_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                         const Tensor& m, const Tensor& v) override;

  void cam_channel_weights(const Tensor& grads, const Tensor& weights) override;
  void cam_weighted_sum_relu(const Tensor& acts, const Tensor& weights, const Tensor& cam) override;
  void cam_scale(const Tensor& cam, const Tensor& scratch, const Tensor& out) override;
  void explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base, const Tensor& maps,
                       uint64_t seed, const Tensor& out) override;
  void cam_overlay(const Tensor& maps, const Tensor& images, const Tensor& lut, float image_weight,
                   const Tensor& scratch, const Tensor& out) override;
  void cam_maps(CamMethod method, const Tensor& acts, const Tensor& grads, const Tensor& weights,
                const Tensor& cam) override;

 private:
  void apply_sgd(const char* op, const SgdStep& step, const Tensor& params, const Tensor& grads,
                 const Tensor& momentum_buf);
  void apply_adamw(const char* op, const AdamWStep& step, const Tensor& params,
                   const Tensor& grads, const Tensor& m, const Tensor& v);
  // Checks the common preconditions of a float op: on the CPU, row-major, dtype f32 or f64.
  DType float_dtype(const char* op, const Tensor& first) const;

  int threads_;
  std::unique_ptr<Pool> workspace_;
};

}  // namespace scenecam
