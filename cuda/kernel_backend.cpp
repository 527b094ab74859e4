// KernelBackend: argument checks, then one launcher of kernels.hpp per op (see the header).
#include "kernel_backend.hpp"

#include "internal/op_checks.hpp"
#include "kernels.hpp"

namespace scenecam {
namespace {

float* f32(const Tensor& t) {
  return static_cast<float*>(t.raw());
}
const float* cf32(const Tensor& t) {
  return static_cast<const float*>(t.raw());
}

}  // namespace

void KernelBackend::check(const char* op, const char* arg, const Tensor& t) const {
  check_tensor(op, arg, t, device(), DType::f32);
  check_layout(op, arg, t, Layout::rowmajor);
}

void KernelBackend::check(const char* op, const char* arg, const Tensor& t,
                          const Shape& shape) const {
  check_tensor(op, arg, t, device(), DType::f32, shape);
  check_layout(op, arg, t, Layout::rowmajor);
}

KernelBackend::LinearDims KernelBackend::check_matrices(const char* op, const Tensor& x,
                                                        const Tensor& w) const {
  check(op, "x", x);
  check_rank(op, "x", x, 2);
  check(op, "w", w);
  check_rank(op, "w", w, 2);
  return {x.dim(0), x.dim(1), w.dim(0)};
}

KernelBackend::LinearDims KernelBackend::check_linear_forward(const Tensor& x, const Tensor& w,
                                                              const Tensor& b,
                                                              const Tensor& y) const {
  const char* op = "linear_forward";
  const LinearDims d = check_matrices(op, x, w);
  SC_CHECK(w.dim(1) == x.dim(1), op, ": argument 'w' has shape ", w.shape().str(), " but x ",
           x.shape().str(), " has ", x.dim(1), " features");
  check(op, "b", b, Shape{d.out});
  check(op, "y", y, Shape{d.N, d.out});
  return d;
}

KernelBackend::LinearDims KernelBackend::check_linear_backward(const Tensor& x, const Tensor& w,
                                                               const Tensor& dy, const Tensor& dx,
                                                               const Tensor& dw,
                                                               const Tensor& db) const {
  const char* op = "linear_backward";
  const LinearDims d = check_matrices(op, x, w);
  check(op, "w", w, Shape{d.out, d.in});
  check(op, "dy", dy, Shape{d.N, d.out});
  if (dx.defined()) check(op, "dx", dx, x.shape());
  if (dw.defined()) check(op, "dw", dw, w.shape());
  if (db.defined()) check(op, "db", db, Shape{d.out});
  return d;
}

void KernelBackend::fill(const Tensor& t, double value) {
  SC_CHECK(t.defined() && t.device() == device(), "fill: tensor ", t.str(), " is not on ",
           device().str());
  if (t.dtype() == DType::f32) {
    cuda::launch_fill(f32(t), t.numel(), static_cast<float>(value), stream_);
  } else if (t.dtype() == DType::i32) {
    cuda::launch_fill_i32(static_cast<int32_t*>(t.raw()), t.numel(), static_cast<int32_t>(value),
                          stream_);
  } else {
    fail("fill: the cuda backend fills f32 and i32 tensors, not ", dtype_name(t.dtype()));
  }
}

void KernelBackend::add_(const Tensor& dst, const Tensor& src) {
  check("add_", "dst", dst);
  check("add_", "src", src, dst.shape());
  cuda::launch_add_inplace(f32(dst), cf32(src), dst.numel(), stream_);
}

void KernelBackend::augment_batch(const Tensor& images, const Tensor& transforms,
                                  const Normalization& norm, const Tensor& out) {
  check_augment_batch(images, transforms, out, device());
  const int64_t N = images.dim(0), S = images.dim(1);
  cuda::launch_augment(static_cast<const uint8_t*>(images.raw()), nullptr, N, cf32(transforms),
                       norm, f32(out), N, int(S), stream_);
}

void KernelBackend::gather_batch(const Tensor& images, const Tensor& all_labels,
                                 const Tensor& order, const AugmentParams& augment,
                                 uint64_t epoch_seed, const Normalization& norm,
                                 const Tensor& transforms, const Tensor& labels, const Tensor& out) {
  check_gather_batch(images, all_labels, order, transforms, labels, out, device());
  const int64_t D = images.dim(0), S = images.dim(1), B = order.dim(0);
  const auto* index = static_cast<const int32_t*>(order.raw());
  cuda::launch_draw_batch(static_cast<const int32_t*>(all_labels.raw()), D, index, augment,
                          epoch_seed, int(S), f32(transforms), static_cast<int32_t*>(labels.raw()),
                          B, stream_);
  cuda::launch_augment(static_cast<const uint8_t*>(images.raw()), index, D, cf32(transforms), norm,
                       f32(out), B, int(S), stream_);
}

void KernelBackend::batch_norm_backward_inference(const BatchNormParams& p, const Tensor& dy,
                                                  const Tensor& gamma, const Tensor& running_var,
                                                  const Tensor& dx) {
  const char* op = "batch_norm_backward_inference";
  check(op, "dy", dy);
  SC_CHECK(dy.rank() == 4 || dy.rank() == 2, op, ": argument 'dy' has shape ", dy.shape().str(),
           ", expected [N, C, H, W] or [N, C]");
  const Shape c{dy.dim(1)};
  check(op, "gamma", gamma, c);
  check(op, "running_var", running_var, c);
  check(op, "dx", dx, dy.shape());
  const int64_t hw = dy.rank() == 4 ? dy.dim(2) * dy.dim(3) : 1;
  cuda::launch_batch_norm_backward_inference(cf32(dy), cf32(gamma), cf32(running_var), float(p.eps),
                                             f32(dx), dy.numel(), dy.dim(1), hw, stream_);
}

void KernelBackend::relu_forward(const Tensor& x, const Tensor& y) {
  check("relu_forward", "x", x);
  check("relu_forward", "y", y, x.shape());
  cuda::launch_relu_forward(cf32(x), f32(y), x.numel(), stream_);
}

void KernelBackend::relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check("relu_backward", "y", y);
  check("relu_backward", "dy", dy, y.shape());
  check("relu_backward", "dx", dx, y.shape());
  cuda::launch_relu_backward(cf32(y), cf32(dy), f32(dx), y.numel(), stream_);
}

void KernelBackend::global_avg_pool_forward(const Tensor& x, const Tensor& y) {
  check("global_avg_pool_forward", "x", x);
  check_rank("global_avg_pool_forward", "x", x, 4);
  check("global_avg_pool_forward", "y", y, Shape{x.dim(0), x.dim(1)});
  cuda::launch_global_avg_pool_forward(cf32(x), f32(y), x.dim(0) * x.dim(1), x.dim(2) * x.dim(3),
                                       stream_);
}

void KernelBackend::global_avg_pool_backward(const Tensor& dy, const Tensor& dx) {
  check("global_avg_pool_backward", "dx", dx);
  check_rank("global_avg_pool_backward", "dx", dx, 4);
  check("global_avg_pool_backward", "dy", dy, Shape{dx.dim(0), dx.dim(1)});
  cuda::launch_global_avg_pool_backward(cf32(dy), f32(dx), dx.dim(0) * dx.dim(1),
                                        dx.dim(2) * dx.dim(3), stream_);
}

void KernelBackend::add_relu_forward(const Tensor& a, const Tensor& b, const Tensor& y) {
  check("add_relu_forward", "a", a);
  check("add_relu_forward", "b", b, a.shape());
  check("add_relu_forward", "y", y, a.shape());
  cuda::launch_add_relu_forward(cf32(a), cf32(b), f32(y), a.numel(), stream_);
}

void KernelBackend::add_relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dsum) {
  check("add_relu_backward", "y", y);
  check("add_relu_backward", "dy", dy, y.shape());
  check("add_relu_backward", "dsum", dsum, y.shape());
  cuda::launch_relu_backward(cf32(y), cf32(dy), f32(dsum), y.numel(), stream_);
}

void KernelBackend::softmax_cross_entropy(const Tensor& logits, const Tensor& labels,
                                          float label_smoothing, const Tensor& loss,
                                          const Tensor& dlogits) {
  const char* op = "softmax_cross_entropy";
  check(op, "logits", logits);
  check_rank(op, "logits", logits, 2);
  const int64_t N = logits.dim(0), K = logits.dim(1);
  check_tensor(op, "labels", labels, device(), DType::i32, Shape{N});
  check(op, "loss", loss, Shape{1});
  if (dlogits.defined()) check(op, "dlogits", dlogits, logits.shape());
  SC_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f, op, ": label_smoothing ",
           label_smoothing, " is outside [0, 1]");
  SC_CHECK(N > 0 && K > 0, op, ": logits ", logits.shape().str(), " are empty");
  Block rows = workspace_->allocate(static_cast<size_t>(N) * sizeof(float), "per-row losses");
  cuda::launch_softmax_cross_entropy(cf32(logits), static_cast<const int32_t*>(labels.raw()),
                                     label_smoothing, static_cast<float*>(rows.data()), f32(loss),
                                     dlogits.defined() ? f32(dlogits) : nullptr, N, K, stream_);
}

void KernelBackend::step_totals_acc(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                                    const Tensor& totals) {
  check_step_totals(logits, labels, loss, totals, device(), /*float64_allowed=*/false);
  cuda::launch_step_totals(cf32(logits), static_cast<const int32_t*>(labels.raw()), cf32(loss),
                           static_cast<double*>(totals.raw()), logits.dim(0), logits.dim(1),
                           stream_);
}

void KernelBackend::sgd_update(const SgdParams& p, const Tensor& params, const Tensor& grads,
                               const Tensor& momentum_buf) {
  check("sgd_update", "params", params);
  check("sgd_update", "grads", grads, params.shape());
  if (p.momentum != 0.0f) check("sgd_update", "momentum_buf", momentum_buf, params.shape());
  const SgdStep step = sgd_step(p);
  cuda::launch_sgd_update(f32(params), cf32(grads),
                          p.momentum != 0.0f ? f32(momentum_buf) : nullptr, params.numel(), step,
                          stream_);
}

void KernelBackend::adamw_update(const AdamWParams& p, int64_t step, const Tensor& params,
                                 const Tensor& grads, const Tensor& m, const Tensor& v) {
  check("adamw_update", "params", params);
  check("adamw_update", "grads", grads, params.shape());
  check("adamw_update", "m", m, params.shape());
  check("adamw_update", "v", v, params.shape());
  const AdamWStep s = adamw_step(p, step);
  cuda::launch_adamw_update(f32(params), cf32(grads), f32(m), f32(v), params.numel(), s, stream_);
}

void KernelBackend::sgd_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                                    const Tensor& momentum_buf) {
  check("sgd_update_from", "step", step, Shape{kSgdStepFields});
  check("sgd_update_from", "params", params);
  check("sgd_update_from", "grads", grads, params.shape());
  if (momentum_buf.defined()) check("sgd_update_from", "momentum_buf", momentum_buf, params.shape());
  cuda::launch_sgd_update(f32(params), cf32(grads),
                          momentum_buf.defined() ? f32(momentum_buf) : nullptr, params.numel(),
                          cf32(step), stream_);
}

void KernelBackend::adamw_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                                      const Tensor& m, const Tensor& v) {
  check("adamw_update_from", "step", step, Shape{kAdamWStepFields});
  check("adamw_update_from", "params", params);
  check("adamw_update_from", "grads", grads, params.shape());
  check("adamw_update_from", "m", m, params.shape());
  check("adamw_update_from", "v", v, params.shape());
  cuda::launch_adamw_update(f32(params), cf32(grads), f32(m), f32(v), params.numel(), cf32(step),
                            stream_);
}

void KernelBackend::cam_channel_weights(const Tensor& grads, const Tensor& weights) {
  global_avg_pool_forward(grads, weights);  // the weights are the spatial means of the gradients
}

void KernelBackend::cam_weighted_sum_relu(const Tensor& acts, const Tensor& weights,
                                          const Tensor& cam) {
  const char* op = "cam_weighted_sum_relu";
  check(op, "acts", acts);
  check_rank(op, "acts", acts, 4);
  const int64_t N = acts.dim(0), C = acts.dim(1);
  check(op, "weights", weights, Shape{N, C});
  check(op, "cam", cam, Shape{N, acts.dim(2), acts.dim(3)});
  cuda::launch_cam_weighted_sum_relu(cf32(acts), cf32(weights), f32(cam), N, C,
                                     acts.dim(2) * acts.dim(3), stream_);
}

void KernelBackend::cam_maps(CamMethod method, const Tensor& acts, const Tensor& grads,
                             const Tensor& weights, const Tensor& cam) {
  const char* op = "cam_maps";
  check(op, "acts", acts);
  check_rank(op, "acts", acts, 4);
  const int64_t N = acts.dim(0), C = acts.dim(1), h = acts.dim(2), w = acts.dim(3);
  check(op, "grads", grads, acts.shape());
  check(op, "weights", weights, Shape{N * C});
  check(op, "cam", cam, Shape{N, h, w});
  SC_CHECK(is_gradient_cam(method), op, ": method ", int(method), " is not a gradient CAM method");
  cuda::launch_cam_maps(method, cf32(acts), cf32(grads), f32(weights), f32(cam), N, C, h * w,
                        stream_);
}

void KernelBackend::cam_overlay(const Tensor& maps, const Tensor& images, const Tensor& lut,
                                float image_weight, const Tensor& scratch, const Tensor& out) {
  const char* op = "cam_overlay";
  check(op, "maps", maps);
  check_rank(op, "maps", maps, 3);
  const int64_t N = maps.dim(0), S = maps.dim(1);
  check(op, "maps", maps, Shape{N, S, S});
  check_tensor(op, "images", images, device(), DType::u8, Shape{N, S, S, 3});
  check_tensor(op, "lut", lut, device(), DType::u8, Shape{256, 3});
  check(op, "scratch", scratch, Shape{N});
  check_tensor(op, "out", out, device(), DType::u8, Shape{N, S, S, 3});
  cuda::launch_cam_overlay(cf32(maps), static_cast<const uint8_t*>(images.raw()),
                           static_cast<const uint8_t*>(lut.raw()), image_weight, f32(scratch),
                           static_cast<uint8_t*>(out.raw()), N, S * S, stream_);
}

void KernelBackend::cam_scale(const Tensor& cam, const Tensor& scratch, const Tensor& out) {
  const char* op = "cam_scale";
  check(op, "cam", cam);
  check_rank(op, "cam", cam, 3);
  check(op, "out", out);
  check_rank(op, "out", out, 3);
  SC_CHECK(out.dim(0) == cam.dim(0), op, ": out ", out.shape().str(), " and cam ",
           cam.shape().str(), " hold different numbers of maps");
  check(op, "scratch", scratch, Shape{cam.numel()});
  cuda::launch_cam_scale(cf32(cam), f32(scratch), f32(out), cam.dim(0), cam.dim(1), cam.dim(2),
                         out.dim(1), out.dim(2), stream_);
}

void KernelBackend::explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base,
                                    const Tensor& maps, uint64_t seed, const Tensor& out) {
  check_explain_perturb(x, plan, base, maps, out, device());
  cuda::launch_explain_perturb(cf32(x), cf32(plan), cf32(base), cf32(maps), f32(out), out.dim(0),
                               x.dim(0), x.dim(1), x.dim(2), x.dim(3), maps.dim(1), maps.dim(2),
                               maps.dim(3), seed, stream_);
}

}  // namespace scenecam
