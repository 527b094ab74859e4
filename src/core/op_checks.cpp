// Shared argument checks and the output-shape rules of convolution and pooling.
#include "internal/op_checks.hpp"

#include <cmath>

#include "scenecam/backend.hpp"

namespace scenecam {

void check_tensor(const char* op, const char* arg, const Tensor& t, Device device, DType dtype) {
  SC_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
  SC_CHECK(t.device() == device, op, ": argument '", arg, "' is on ", t.device().str(),
           " but the op runs on ", device.str(), " (shape ", t.shape().str(), ")");
  SC_CHECK(t.dtype() == dtype, op, ": argument '", arg, "' has dtype ", dtype_name(t.dtype()),
           ", expected ", dtype_name(dtype), " (shape ", t.shape().str(), ")");
}

void check_tensor(const char* op, const char* arg, const Tensor& t, Device device, DType dtype,
                  const Shape& expected) {
  check_tensor(op, arg, t, device, dtype);
  SC_CHECK(t.shape() == expected, op, ": argument '", arg, "' has shape ", t.shape().str(),
           ", expected ", expected.str());
}

void check_rank(const char* op, const char* arg, const Tensor& t, int rank) {
  SC_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
  SC_CHECK(t.rank() == rank, op, ": argument '", arg, "' has shape ", t.shape().str(),
           ", expected a ", rank, "-D tensor");
}

void check_layout(const char* op, const char* arg, const Tensor& t, Layout supported) {
  SC_CHECK(t.layout() == supported, op, ": argument '", arg, "' has layout ",
           layout_name(t.layout()), "; this backend takes ", layout_name(supported),
           " for this op (shape ", t.shape().str(), ")");
}

void check_explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base,
                           const Tensor& maps, const Tensor& out, Device device) {
  const char* op = "explain_perturb";
  check_rank(op, "x", x, 4);
  check_rank(op, "out", out, 4);
  check_rank(op, "maps", maps, 4);
  check_tensor(op, "x", x, device, DType::f32);
  check_tensor(op, "maps", maps, device, DType::f32);
  const int64_t M = out.dim(0), C = x.dim(1);
  check_tensor(op, "out", out, device, DType::f32, Shape{M, C, x.dim(2), x.dim(3)});
  check_tensor(op, "plan", plan, device, DType::f32, Shape{M, kPlanFields});
  check_tensor(op, "base", base, device, DType::f32, Shape{C});
  SC_CHECK(maps.dim(0) == x.dim(0), op, ": maps ", maps.shape().str(), " and x ", x.shape().str(),
           " hold different numbers of inputs");
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{"x", &x}, {"plan", &plan},
                               {"base", &base}, {"maps", &maps}, {"out", &out}})
    check_layout(op, arg, *t, Layout::rowmajor);
}

void check_augment_batch(const Tensor& images, const Tensor& transforms, const Tensor& out,
                         Device device) {
  const char* op = "augment_batch";
  check_rank(op, "images", images, 4);
  const int64_t N = images.dim(0), S = images.dim(1);
  check_tensor(op, "images", images, device, DType::u8, Shape{N, S, S, 3});
  check_tensor(op, "transforms", transforms, device, DType::f32, Shape{N, kTransformFields});
  check_tensor(op, "out", out, device, DType::f32, Shape{N, 3, S, S});
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{"images", &images},
                               {"transforms", &transforms}, {"out", &out}})
    check_layout(op, arg, *t, Layout::rowmajor);
}

void check_gather_batch(const Tensor& images, const Tensor& all_labels, const Tensor& order,
                        const Tensor& transforms, const Tensor& labels, const Tensor& out,
                        Device device) {
  const char* op = "gather_batch";
  check_rank(op, "images", images, 4);
  check_rank(op, "order", order, 1);
  const int64_t D = images.dim(0), S = images.dim(1), B = order.dim(0);
  check_tensor(op, "images", images, device, DType::u8, Shape{D, S, S, 3});
  check_tensor(op, "all_labels", all_labels, device, DType::i32, Shape{D});
  check_tensor(op, "order", order, device, DType::i32);
  check_tensor(op, "transforms", transforms, device, DType::f32, Shape{B, kTransformFields});
  check_tensor(op, "labels", labels, device, DType::i32, Shape{B});
  check_tensor(op, "out", out, device, DType::f32, Shape{B, 3, S, S});
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{"images", &images},
                               {"all_labels", &all_labels}, {"order", &order},
                               {"transforms", &transforms}, {"labels", &labels}, {"out", &out}})
    check_layout(op, arg, *t, Layout::rowmajor);
}

void check_step_totals(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                       const Tensor& totals, Device device, bool float64_allowed) {
  const char* op = "step_totals_acc";
  check_rank(op, "logits", logits, 2);
  const DType dt = float64_allowed && logits.dtype() == DType::f64 ? DType::f64 : DType::f32;
  check_tensor(op, "logits", logits, device, dt);
  check_tensor(op, "labels", labels, device, DType::i32, Shape{logits.dim(0)});
  check_tensor(op, "loss", loss, device, dt, Shape{1});
  check_tensor(op, "totals", totals, device, DType::f64, Shape{kStepTotalsFields});
  SC_CHECK(logits.numel() > 0, op, ": logits ", logits.shape().str(), " are empty");
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{"logits", &logits},
                               {"labels", &labels}, {"loss", &loss}, {"totals", &totals}})
    check_layout(op, arg, *t, Layout::rowmajor);
}

Shape conv2d_output_shape(const Conv2dParams& p, const Shape& x, const Shape& w) {
  SC_CHECK(x.rank() == 4, "conv2d: input x has shape ", x.str(), ", expected [N, C, H, W]");
  SC_CHECK(w.rank() == 4, "conv2d: filter w has shape ", w.str(),
           ", expected [O, C/groups, kh, kw]");
  SC_CHECK(p.groups >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 &&
               p.dilation_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0,
           "conv2d: groups, strides and dilations must be >= 1 and paddings >= 0");
  SC_CHECK(x[1] % p.groups == 0 && w[0] % p.groups == 0, "conv2d: ", p.groups,
           " groups do not divide the input channels of x ", x.str(), " and the outputs of w ",
           w.str());
  SC_CHECK(w[1] * p.groups == x[1], "conv2d: filter w ", w.str(), " expects ", w[1] * p.groups,
           " input channels but x ", x.str(), " has ", x[1]);
  const int64_t span_h = p.dilation_h * (w[2] - 1) + 1;
  const int64_t span_w = p.dilation_w * (w[3] - 1) + 1;
  const int64_t ho = (x[2] + 2 * p.pad_h - span_h) / p.stride_h + 1;
  const int64_t wo = (x[3] + 2 * p.pad_w - span_w) / p.stride_w + 1;
  SC_CHECK(x[2] + 2 * p.pad_h >= span_h && x[3] + 2 * p.pad_w >= span_w, "conv2d: the filter ",
           w.str(), " does not fit the padded input ", x.str());
  return Shape{x[0], w[0], ho, wo};
}

SgdStep sgd_step(const SgdParams& p) {
  return SgdStep{p.lr, p.momentum, p.weight_decay, p.nesterov, p.decoupled_weight_decay};
}

AdamWStep adamw_step(const AdamWParams& p, int64_t step) {
  SC_CHECK(step >= 1, "adamw_update: step ", step, " must be >= 1");
  return AdamWStep{p.lr,
                   p.beta1,
                   p.beta2,
                   p.eps,
                   p.weight_decay,
                   static_cast<float>(1.0 - std::pow(double(p.beta1), double(step))),
                   static_cast<float>(1.0 - std::pow(double(p.beta2), double(step)))};
}

Shape pool2d_output_shape(const Pool2dParams& p, const Shape& x) {
  SC_CHECK(x.rank() == 4, "pool2d: input has shape ", x.str(), ", expected [N, C, H, W]");
  SC_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1,
           "pool2d: kernel and stride must be >= 1");
  // Every window must overlap the input, so padding stays below the kernel size.
  SC_CHECK(p.pad_h >= 0 && p.pad_w >= 0 && p.pad_h < p.kernel_h && p.pad_w < p.kernel_w,
           "pool2d: padding must be smaller than the kernel");
  SC_CHECK(x[2] + 2 * p.pad_h >= p.kernel_h && x[3] + 2 * p.pad_w >= p.kernel_w,
           "pool2d: the window ", p.kernel_h, "x", p.kernel_w, " does not fit the input ", x.str());
  return Shape{x[0], x[1], (x[2] + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1,
               (x[3] + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1};
}

}  // namespace scenecam
