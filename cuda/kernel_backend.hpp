// KernelBackend: the part of the CUDA backend that runs scenecam's own kernels (kernels.hpp) on a
// stream, with the Backend's argument checks. CudaBackend (cuda_backend.cpp) derives from it and
// adds cuDNN, cuBLAS and the device pools. The same source also compiles as host C++ over the
// test-only execution layer (tests/emu/), where a backend on host memory derives from it, so the
// tests run these ops, the launchers and the kernels' real code on every CI run.
//
// Derived classes set stream_ and workspace_ (scratch: softmax's per-row losses) in their
// constructors. Tensors must be row-major float32 on device() unless an op says otherwise.
#pragma once

#include <cuda_runtime.h>

#include <memory>

#include "scenecam/backend.hpp"

namespace scenecam {

class KernelBackend : public Backend {
 public:
  Device device() const override { return device_; }

  void fill(const Tensor& t, double value) override;
  void add_(const Tensor& dst, const Tensor& src) override;
  void augment_batch(const Tensor& images, const Tensor& transforms, const Normalization& norm,
                     const Tensor& out) override;
  void gather_batch(const Tensor& images, const Tensor& all_labels, const Tensor& order,
                    const AugmentParams& augment, uint64_t epoch_seed, const Normalization& norm,
                    const Tensor& transforms, const Tensor& labels, const Tensor& out) override;
  void batch_norm_backward_inference(const BatchNormParams& p, const Tensor& dy,
                                     const Tensor& gamma, const Tensor& running_var,
                                     const Tensor& dx) override;
  void relu_forward(const Tensor& x, const Tensor& y) override;
  void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) override;
  void global_avg_pool_forward(const Tensor& x, const Tensor& y) override;
  void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) override;
  void add_relu_forward(const Tensor& a, const Tensor& b, const Tensor& y) override;
  void add_relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dsum) override;
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
  void cam_maps(CamMethod method, const Tensor& acts, const Tensor& grads, const Tensor& weights,
                const Tensor& cam) override;
  void cam_overlay(const Tensor& maps, const Tensor& images, const Tensor& lut, float image_weight,
                   const Tensor& scratch, const Tensor& out) override;
  void cam_scale(const Tensor& cam, const Tensor& scratch, const Tensor& out) override;
  void explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base, const Tensor& maps,
                       uint64_t seed, const Tensor& out) override;

 protected:
  explicit KernelBackend(Device device) : device_(device) {}

  // Argument checks: defined, on device(), float32, row-major (and of `shape`).
  void check(const char* op, const char* arg, const Tensor& t) const;
  void check(const char* op, const char* arg, const Tensor& t, const Shape& shape) const;

  // The dense layer's arguments (its products are the derived backend's; its bias kernels are
  // ours): y[N, out] = x[N, in] w[out, in]^T + b; the gradients that are defined.
  struct LinearDims {
    int64_t N, in, out;
  };
  LinearDims check_matrices(const char* op, const Tensor& x, const Tensor& w) const;
  LinearDims check_linear_forward(const Tensor& x, const Tensor& w, const Tensor& b,
                                  const Tensor& y) const;
  LinearDims check_linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy,
                                   const Tensor& dx, const Tensor& dw, const Tensor& db) const;

  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Pool> workspace_;

 private:
  Device device_;
};

}  // namespace scenecam
