// A Backend that hands every op, as a closure holding copies of its arguments, to forward_op(),
// which runs it on another backend. ProfilingBackend times each op; the tests' RecordingBackend
// keeps the closures of a recorded step to run them again, as a CUDA graph would.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "internal/measurement.hpp"
#include "scenecam/backend.hpp"

namespace scenecam::bench {

enum class OpKind { conv, batch_norm, relu, residual_add, pooling, linear, loss, optimizer, other };
constexpr int kOpKinds = 9;
inline const char* op_kind_name(OpKind k) {
  static const char* const names[kOpKinds] = {
      "conv", "batch_norm", "relu", "add", "pooling", "linear", "loss", "optimizer", "other"};
  return names[static_cast<int>(k)];
}

class ForwardingBackend : public Backend, public BackendMeasurement {
 public:
  explicit ForwardingBackend(Backend& inner) : b_(inner) {}

  Device device() const override { return b_.device(); }
  std::string name() const override { return b_.name(); }
  PoolStats workspace_stats() const override { return b_.workspace_stats(); }
  void synchronize() override { b_.synchronize(); }
  double time_seconds(const std::function<void()>& fn) override {
    return measurement_of(b_).time_seconds(fn);
  }
  std::string conv_algorithm(const Conv2dParams& p, const Shape& x, const Shape& w,
                             ConvPass pass) override {
    return measurement_of(b_).conv_algorithm(p, x, w, pass);
  }
  std::unique_ptr<Pool> make_staging_pool(std::string n, size_t capacity) override {
    return b_.make_staging_pool(std::move(n), capacity);
  }
  std::unique_ptr<Pool> make_pool(std::string n, size_t capacity, bool growable) override {
    return b_.make_pool(std::move(n), capacity, growable);
  }
  size_t device_memory_free() override { return b_.device_memory_free(); }
  void copy_async(const Tensor& s, const Tensor& d) override {
    forward_op(OpKind::other, [=] { b_.copy_async(s, d); });
  }
  uint64_t upload_mark() override { return b_.upload_mark(); }
  void wait_uploads(uint64_t mark) override { b_.wait_uploads(mark); }

  void fill(const Tensor& t, double v) override {
    forward_op(OpKind::other, [=] { b_.fill(t, v); });
  }
  void copy(const Tensor& s, const Tensor& d) override {
    forward_op(OpKind::other, [=] { b_.copy(s, d); });
  }
  void add_(const Tensor& d, const Tensor& s) override {
    forward_op(OpKind::residual_add, [=] { b_.add_(d, s); });
  }
  void augment_batch(const Tensor& i, const Tensor& t, const Normalization& n,
                     const Tensor& o) override {
    forward_op(OpKind::other, [=] { b_.augment_batch(i, t, n, o); });
  }
  void gather_batch(const Tensor& images, const Tensor& all_labels, const Tensor& order,
                    const AugmentParams& a, uint64_t epoch_seed, const Normalization& n,
                    const Tensor& t, const Tensor& labels, const Tensor& o) override {
    forward_op(OpKind::other,
               [=] { b_.gather_batch(images, all_labels, order, a, epoch_seed, n, t, labels, o); });
  }
  void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                      const Tensor& y) override {
    forward_op(OpKind::conv, [=] { b_.conv2d_forward(p, x, w, y); });
  }
  void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w,
                            const Tensor& dx) override {
    forward_op(OpKind::conv, [=] { b_.conv2d_backward_data(p, dy, w, dx); });
  }
  void conv2d_backward_filter(const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                              const Tensor& dw) override {
    forward_op(OpKind::conv, [=] { b_.conv2d_backward_filter(p, x, dy, dw); });
  }
  void batch_norm_forward_training(const BatchNormParams& p, const Tensor& x, const Tensor& g,
                                   const Tensor& be, const Tensor& rm, const Tensor& rv,
                                   const Tensor& y, const Tensor& sm, const Tensor& si) override {
    forward_op(OpKind::batch_norm,
               [=] { b_.batch_norm_forward_training(p, x, g, be, rm, rv, y, sm, si); });
  }
  void batch_norm_forward_inference(const BatchNormParams& p, const Tensor& x, const Tensor& g,
                                    const Tensor& be, const Tensor& rm, const Tensor& rv,
                                    const Tensor& y) override {
    forward_op(OpKind::batch_norm,
               [=] { b_.batch_norm_forward_inference(p, x, g, be, rm, rv, y); });
  }
  void batch_norm_backward_inference(const BatchNormParams& p, const Tensor& dy, const Tensor& g,
                                     const Tensor& rv, const Tensor& dx) override {
    forward_op(OpKind::batch_norm, [=] { b_.batch_norm_backward_inference(p, dy, g, rv, dx); });
  }
  void batch_norm_backward(const BatchNormParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& g, const Tensor& sm, const Tensor& si, const Tensor& dx,
                           const Tensor& dg, const Tensor& db) override {
    forward_op(OpKind::batch_norm,
               [=] { b_.batch_norm_backward(p, x, dy, g, sm, si, dx, dg, db); });
  }
  void relu_forward(const Tensor& x, const Tensor& y) override {
    forward_op(OpKind::relu, [=] { b_.relu_forward(x, y); });
  }
  void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) override {
    forward_op(OpKind::relu, [=] { b_.relu_backward(y, dy, dx); });
  }
  void max_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y) override {
    forward_op(OpKind::pooling, [=] { b_.max_pool2d_forward(p, x, y); });
  }
  void max_pool2d_backward(const Pool2dParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& dx) override {
    forward_op(OpKind::pooling, [=] { b_.max_pool2d_backward(p, x, dy, dx); });
  }
  void global_avg_pool_forward(const Tensor& x, const Tensor& y) override {
    forward_op(OpKind::pooling, [=] { b_.global_avg_pool_forward(x, y); });
  }
  void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) override {
    forward_op(OpKind::pooling, [=] { b_.global_avg_pool_backward(dy, dx); });
  }
  void add_relu_forward(const Tensor& a, const Tensor& b, const Tensor& y) override {
    forward_op(OpKind::residual_add, [=] { b_.add_relu_forward(a, b, y); });
  }
  void add_relu_backward(const Tensor& y, const Tensor& dy, const Tensor& ds) override {
    forward_op(OpKind::residual_add, [=] { b_.add_relu_backward(y, dy, ds); });
  }
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) override {
    forward_op(OpKind::linear, [=] { b_.linear_forward(x, w, b, y); });
  }
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                       const Tensor& dw, const Tensor& db) override {
    forward_op(OpKind::linear, [=] { b_.linear_backward(x, w, dy, dx, dw, db); });
  }
  void softmax_cross_entropy(const Tensor& z, const Tensor& l, float s, const Tensor& loss,
                             const Tensor& dz) override {
    forward_op(OpKind::loss, [=] { b_.softmax_cross_entropy(z, l, s, loss, dz); });
  }
  void step_totals_acc(const Tensor& z, const Tensor& l, const Tensor& loss,
                       const Tensor& totals) override {
    forward_op(OpKind::loss, [=] { b_.step_totals_acc(z, l, loss, totals); });
  }
  void sgd_update(const SgdParams& p, const Tensor& w, const Tensor& g, const Tensor& m) override {
    forward_op(OpKind::optimizer, [=] { b_.sgd_update(p, w, g, m); });
  }
  void adamw_update(const AdamWParams& p, int64_t step, const Tensor& w, const Tensor& g,
                    const Tensor& m, const Tensor& v) override {
    forward_op(OpKind::optimizer, [=] { b_.adamw_update(p, step, w, g, m, v); });
  }
  void sgd_update_from(const Tensor& s, const Tensor& w, const Tensor& g,
                       const Tensor& m) override {
    forward_op(OpKind::optimizer, [=] { b_.sgd_update_from(s, w, g, m); });
  }
  void adamw_update_from(const Tensor& s, const Tensor& w, const Tensor& g, const Tensor& m,
                         const Tensor& v) override {
    forward_op(OpKind::optimizer, [=] { b_.adamw_update_from(s, w, g, m, v); });
  }
  void cam_channel_weights(const Tensor& g, const Tensor& w) override {
    forward_op(OpKind::other, [=] { b_.cam_channel_weights(g, w); });
  }
  void cam_weighted_sum_relu(const Tensor& a, const Tensor& w, const Tensor& c) override {
    forward_op(OpKind::other, [=] { b_.cam_weighted_sum_relu(a, w, c); });
  }
  void cam_maps(CamMethod m, const Tensor& a, const Tensor& g, const Tensor& w,
                const Tensor& c) override {
    forward_op(OpKind::other, [=] { b_.cam_maps(m, a, g, w, c); });
  }
  void cam_overlay(const Tensor& m, const Tensor& i, const Tensor& lut, float iw, const Tensor& s,
                   const Tensor& o) override {
    forward_op(OpKind::other, [=] { b_.cam_overlay(m, i, lut, iw, s, o); });
  }
  void cam_scale(const Tensor& c, const Tensor& s, const Tensor& o) override {
    forward_op(OpKind::other, [=] { b_.cam_scale(c, s, o); });
  }
  void explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base, const Tensor& maps,
                       uint64_t seed, const Tensor& out) override {
    forward_op(OpKind::other, [=] { b_.explain_perturb(x, plan, base, maps, seed, out); });
  }

 protected:
  // Runs `op` (one op of the inner backend, its arguments copied in).
  virtual void forward_op(OpKind kind, std::function<void()> op) = 0;
  Backend& inner() const { return b_; }

 private:
  Backend& b_;
};

}  // namespace scenecam::bench
