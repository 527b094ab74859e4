// Parameters and the layers of a residual network. Forward leases outputs from the step arena and
// keeps views of what backward needs; backward writes parameter gradients and returns dx.
#include <cmath>
#include <random>

#include "scenecam/nn.hpp"

namespace scenecam {
namespace {

// Tensors in an arena start on 256-byte boundaries: 64 float32 elements.
constexpr int64_t kAlignElems = kPoolAlignment / sizeof(float);
int64_t padded(int64_t n) {
  return (n + kAlignElems - 1) / kAlignElems * kAlignElems;
}

void initialise(const ParamEntry& e, float* out, std::mt19937_64& rng) {
  const int64_t n = e.shape.numel();
  switch (e.init) {
    case Init::zeros:
      std::fill_n(out, n, 0.0f);
      break;
    case Init::ones:
      std::fill_n(out, n, 1.0f);
      break;
    case Init::kaiming_normal_fan_out: {
      std::normal_distribution<double> dist(0.0, std::sqrt(2.0 / double(e.fan_out)));
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(dist(rng));
      break;
    }
    case Init::uniform_fan_in: {
      const double bound = 1.0 / std::sqrt(double(e.fan_in));
      std::uniform_real_distribution<double> dist(-bound, bound);
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(dist(rng));
      break;
    }
  }
}

}  // namespace

int Parameters::declare(std::string name, const Shape& shape, Init init, ParamKind kind,
                        int64_t fan_in, int64_t fan_out) {
  SC_CHECK(!values_.defined(), "parameter '", name, "' declared after the model was materialised");
  for (const ParamEntry& e : entries_)
    SC_CHECK(e.name != name, "parameter '", name, "' is declared twice");
  entries_.push_back(ParamEntry{std::move(name), shape, init, kind, fan_in, fan_out, {}, {}});
  return static_cast<int>(entries_.size()) - 1;
}

void Parameters::set_frozen(const std::vector<bool>& frozen) {
  SC_CHECK(frozen.size() == entries_.size(), "set_frozen: ", frozen.size(), " flags for ",
           entries_.size(), " tensors");
  for (size_t i = 0; i < entries_.size(); ++i)
    entries_[i].frozen = frozen[i];
}

void Parameters::materialize(Backend& backend, uint64_t seed, DType dtype) {
  SC_CHECK(!values_.defined(), "the model's parameters are already materialised");
  SC_CHECK(dtype == DType::f32 || dtype == DType::f64, "parameters are f32 or f64, not ",
           dtype_name(dtype));
  // Offsets: decayed tensors, then the other trainable ones, each padded to the alignment.
  std::vector<int64_t> offset(entries_.size());
  int64_t trainable = 0, buffers = 0;
  for (ParamKind group : {ParamKind::decayed, ParamKind::not_decayed}) {
    for (size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].kind == group) {
        offset[i] = trainable;
        trainable += padded(entries_[i].shape.numel());
      }
    if (group == ParamKind::decayed) decayed_elems_ = trainable;
  }
  for (size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].kind == ParamKind::buffer) {
      offset[i] = buffers;
      buffers += padded(entries_[i].shape.numel());
    }

  const size_t elem = dtype_size(dtype);
  const size_t bytes = pool_capacity({{Shape{trainable}, dtype}});
  const size_t buffer_bytes = pool_capacity({{Shape{buffers}, dtype}});
  value_pool_ = backend.make_pool("parameters", bytes, false);
  grad_pool_ = backend.make_pool("gradients", bytes, false);
  buffer_pool_ = backend.make_pool("buffers", buffer_bytes, false);
  value_block_ = value_pool_->allocate_tensor(Shape{trainable}, dtype, "parameters", &values_);
  grad_block_ = grad_pool_->allocate_tensor(Shape{trainable}, dtype, "gradients", &grads_);
  buffer_block_ = buffer_pool_->allocate_tensor(Shape{buffers}, dtype, "buffers", &buffers_);

  // Initial values are drawn in float32 on the host, in declaration order, so a float64 model
  // starts from exactly the same weights; then they are copied in one transfer per arena.
  std::vector<float> host_values(trainable, 0.0f), host_buffers(buffers, 0.0f);
  std::mt19937_64 rng(seed);
  auto view = [&](const Tensor& arena, int64_t at, const Shape& shape) {
    return Tensor(static_cast<char*>(arena.raw()) + at * elem, shape, dtype, arena.device());
  };
  for (size_t i = 0; i < entries_.size(); ++i) {
    ParamEntry& e = entries_[i];
    const bool is_buffer = e.kind == ParamKind::buffer;
    initialise(e, (is_buffer ? host_buffers.data() : host_values.data()) + offset[i], rng);
    e.value = view(is_buffer ? buffers_ : values_, offset[i], e.shape);
    if (!is_buffer) e.grad = view(grads_, offset[i], e.shape);
  }
  auto upload = [&](std::vector<float>& host, const Tensor& arena) {
    if (dtype == DType::f32) {
      backend.copy(Tensor(host.data(), arena.shape(), DType::f32, Device::cpu()), arena);
    } else {
      std::vector<double> wide(host.begin(), host.end());
      backend.copy(Tensor(wide.data(), arena.shape(), DType::f64, Device::cpu()), arena);
    }
  };
  upload(host_values, values_);
  upload(host_buffers, buffers_);
  backend.fill(grads_, 0.0);
}

int64_t Parameters::trainable_count() const {
  int64_t n = 0;
  for (const ParamEntry& e : entries_)
    if (e.kind != ParamKind::buffer) n += e.shape.numel();
  return n;
}

// ---------------------------------------------------------------- Conv2d

Conv2d::Conv2d(Parameters& params, const std::string& name, int64_t in, int64_t out, int kernel,
               int stride, int pad)
    : params_(params) {
  weight_ =
      params.declare(name + ".weight", Shape{out, in, kernel, kernel}, Init::kaiming_normal_fan_out,
                     ParamKind::decayed, in * kernel * kernel, out * kernel * kernel);
  conv_.stride_h = conv_.stride_w = stride;
  conv_.pad_h = conv_.pad_w = pad;
}

Tensor Conv2d::forward(StepContext& ctx, const Tensor& x) {
  const Tensor& w = params_[weight_].value;
  Tensor y = ctx.arena.take(conv2d_output_shape(conv_, x.shape(), w.shape()), x.dtype(),
                            params_[weight_].name);
  ctx.backend.conv2d_forward(conv_, x, w, y);
  x_ = x;
  return y;
}

Tensor Conv2d::backward(StepContext& ctx, const Tensor& dy) {
  const ParamEntry& w = params_[weight_];
  if (!w.frozen) ctx.backend.conv2d_backward_filter(conv_, x_, dy, w.grad);
  Tensor dx = ctx.arena.take(x_.shape(), dy.dtype(), w.name);
  ctx.backend.conv2d_backward_data(conv_, dy, w.value, dx);
  return dx;
}

// ---------------------------------------------------------------- BatchNorm2d

BatchNorm2d::BatchNorm2d(Parameters& params, const std::string& name, int64_t channels,
                         bool zero_init)
    : params_(params) {
  const Shape c{channels};
  gamma_ = params.declare(name + ".weight", c, zero_init ? Init::zeros : Init::ones,
                          ParamKind::not_decayed);
  beta_ = params.declare(name + ".bias", c, Init::zeros, ParamKind::not_decayed);
  mean_ = params.declare(name + ".running_mean", c, Init::zeros, ParamKind::buffer);
  var_ = params.declare(name + ".running_var", c, Init::ones, ParamKind::buffer);
}

std::vector<double> BatchNorm2d::folded_bias(Backend& backend) const {
  const int64_t C = params_[gamma_].shape[0];
  std::vector<std::vector<double>> host(4, std::vector<double>(C));
  const int index[4] = {gamma_, beta_, mean_, var_};
  for (int i = 0; i < 4; ++i) {
    const Tensor& value = params_[index[i]].value;
    if (value.dtype() == DType::f64) {  // the float64 models of the reference tests
      backend.copy(value, Tensor(host[i].data(), Shape{C}, DType::f64, Device::cpu()));
      continue;
    }
    std::vector<float> f(C);
    backend.copy(value, Tensor(f.data(), Shape{C}, DType::f32, Device::cpu()));
    std::copy(f.begin(), f.end(), host[i].begin());
  }
  std::vector<double> bias(C);
  for (int64_t c = 0; c < C; ++c)
    bias[c] = host[1][c] - host[2][c] * host[0][c] / std::sqrt(host[3][c] + bn_.eps);
  return bias;
}

Tensor BatchNorm2d::forward(StepContext& ctx, const Tensor& x) {
  const std::string& name = params_[gamma_].name;
  Tensor y = ctx.arena.take(x.shape(), x.dtype(), name);
  // Frozen (weight and bias): inference mode, as module.eval() on a frozen block in PyTorch.
  training_ = ctx.training && !(params_[gamma_].frozen && params_[beta_].frozen);
  if (!training_) {
    ctx.backend.batch_norm_forward_inference(bn_, x, params_[gamma_].value, params_[beta_].value,
                                             params_[mean_].value, params_[var_].value, y);
    x_shape_ = x.shape();
    return y;
  }
  const Shape c{x.dim(1)};
  save_mean_ = ctx.arena.take(c, x.dtype(), name);
  save_invstd_ = ctx.arena.take(c, x.dtype(), name);
  ctx.backend.batch_norm_forward_training(bn_, x, params_[gamma_].value, params_[beta_].value,
                                          params_[mean_].value, params_[var_].value, y, save_mean_,
                                          save_invstd_);
  x_ = x;
  return y;
}

Tensor BatchNorm2d::backward(StepContext& ctx, const Tensor& dy) {
  if (ctx.batch_norm_gradient) (*ctx.batch_norm_gradient)(*this, dy);
  if (!training_) {  // differentiating the inference forward: running statistics are constants
    Tensor dx = ctx.arena.take(x_shape_, dy.dtype(), params_[gamma_].name);
    ctx.backend.batch_norm_backward_inference(bn_, dy, params_[gamma_].value, params_[var_].value,
                                              dx);
    return dx;
  }
  Tensor dx = ctx.arena.take(x_.shape(), dy.dtype(), params_[gamma_].name);
  ctx.backend.batch_norm_backward(bn_, x_, dy, params_[gamma_].value, save_mean_, save_invstd_, dx,
                                  params_[gamma_].grad, params_[beta_].grad);
  return dx;
}

// ---------------------------------------------------------------- ReLU, MaxPool2d

Tensor ReLU::forward(StepContext& ctx, const Tensor& x) {
  y_ = ctx.arena.take(x.shape(), x.dtype(), "relu");
  ctx.backend.relu_forward(x, y_);
  return y_;
}

Tensor ReLU::backward(StepContext& ctx, const Tensor& dy) {
  // In place: dy is this layer's alone and is not read again.
  if (ctx.guided_relu) ctx.backend.relu_forward(dy, dy);  // Guided Backprop: only dy > 0 passes
  ctx.backend.relu_backward(y_, dy, dy);
  return dy;
}

MaxPool2d::MaxPool2d(int kernel, int stride, int pad) {
  pool_.kernel_h = pool_.kernel_w = kernel;
  pool_.stride_h = pool_.stride_w = stride;
  pool_.pad_h = pool_.pad_w = pad;
}

Tensor MaxPool2d::forward(StepContext& ctx, const Tensor& x) {
  Tensor y = ctx.arena.take(pool2d_output_shape(pool_, x.shape()), x.dtype(), "maxpool");
  ctx.backend.max_pool2d_forward(pool_, x, y);
  x_ = x;
  return y;
}

Tensor MaxPool2d::backward(StepContext& ctx, const Tensor& dy) {
  Tensor dx = ctx.arena.take(x_.shape(), dy.dtype(), "maxpool");
  ctx.backend.max_pool2d_backward(pool_, x_, dy, dx);
  return dx;
}

// ---------------------------------------------------------------- ResidualJoin

Tensor ResidualJoin::forward(StepContext& ctx, const Tensor& residual, const Tensor& shortcut) {
  y_ = ctx.arena.take(residual.shape(), residual.dtype(), "residual");
  ctx.backend.add_relu_forward(residual, shortcut, y_);
  return y_;
}

Tensor ResidualJoin::backward(StepContext& ctx, const Tensor& dy) {
  Tensor dsum = ctx.arena.take(dy.shape(), dy.dtype(), "residual");
  if (ctx.guided_relu) {  // Guided Backprop: only dy > 0 passes the join's ReLU
    const Tensor positive = ctx.arena.take(dy.shape(), dy.dtype(), "guided residual");
    ctx.backend.relu_forward(dy, positive);
    ctx.backend.add_relu_backward(y_, positive, dsum);
    return dsum;
  }
  ctx.backend.add_relu_backward(y_, dy, dsum);
  return dsum;
}

// ---------------------------------------------------------------- BasicBlock

BasicBlock::BasicBlock(Parameters& params, const std::string& name, int64_t in, int64_t out,
                       int stride)
    : conv1_(params, name + ".conv1", in, out, 3, stride, 1),
      bn1_(params, name + ".bn1", out),
      conv2_(params, name + ".conv2", out, out, 3, 1, 1),
      bn2_(params, name + ".bn2", out) {
  if (stride != 1 || in != out) {
    down_conv_ = std::make_unique<Conv2d>(params, name + ".downsample.0", in, out, 1, stride, 0);
    down_bn_ = std::make_unique<BatchNorm2d>(params, name + ".downsample.1", out);
  }
}

Tensor BasicBlock::forward(StepContext& ctx, const Tensor& x) {
  Tensor h = bn2_.forward(
      ctx, conv2_.forward(ctx, relu_.forward(ctx, bn1_.forward(ctx, conv1_.forward(ctx, x)))));
  Tensor shortcut = down_conv_ ? down_bn_->forward(ctx, down_conv_->forward(ctx, x)) : x;
  return join_.forward(ctx, h, shortcut);
}

Tensor BasicBlock::backward(StepContext& ctx, const Tensor& dy) {
  const Tensor dsum = join_.backward(ctx, dy);
  Tensor dx = conv1_.backward(
      ctx, bn1_.backward(ctx, relu_.backward(ctx, conv2_.backward(ctx, bn2_.backward(ctx, dsum)))));
  // The input fed both paths, so its gradient is the sum of theirs.
  ctx.backend.add_(dx,
                   down_conv_ ? down_conv_->backward(ctx, down_bn_->backward(ctx, dsum)) : dsum);
  return dx;
}

// ---------------------------------------------------------------- Bottleneck

Bottleneck::Bottleneck(Parameters& params, const std::string& name, int64_t in, int64_t width,
                       int stride)
    : conv1_(params, name + ".conv1", in, width, 1, 1, 0),
      bn1_(params, name + ".bn1", width),
      conv2_(params, name + ".conv2", width, width, 3, stride, 1),
      bn2_(params, name + ".bn2", width),
      conv3_(params, name + ".conv3", width, width * kExpansion, 1, 1, 0),
      bn3_(params, name + ".bn3", width * kExpansion) {
  if (stride != 1 || in != width * kExpansion) {
    down_conv_ = std::make_unique<Conv2d>(params, name + ".downsample.0", in, width * kExpansion, 1,
                                          stride, 0);
    down_bn_ = std::make_unique<BatchNorm2d>(params, name + ".downsample.1", width * kExpansion);
  }
}

Tensor Bottleneck::forward(StepContext& ctx, const Tensor& x) {
  Tensor h = relu1_.forward(ctx, bn1_.forward(ctx, conv1_.forward(ctx, x)));
  h = relu2_.forward(ctx, bn2_.forward(ctx, conv2_.forward(ctx, h)));
  h = bn3_.forward(ctx, conv3_.forward(ctx, h));
  Tensor shortcut = down_conv_ ? down_bn_->forward(ctx, down_conv_->forward(ctx, x)) : x;
  return join_.forward(ctx, h, shortcut);
}

Tensor Bottleneck::backward(StepContext& ctx, const Tensor& dy) {
  const Tensor dsum = join_.backward(ctx, dy);
  Tensor d = conv3_.backward(ctx, bn3_.backward(ctx, dsum));
  d = conv2_.backward(ctx, bn2_.backward(ctx, relu2_.backward(ctx, d)));
  Tensor dx = conv1_.backward(ctx, bn1_.backward(ctx, relu1_.backward(ctx, d)));
  ctx.backend.add_(dx,
                   down_conv_ ? down_conv_->backward(ctx, down_bn_->backward(ctx, dsum)) : dsum);
  return dx;
}

// ---------------------------------------------------------------- PoolingBlock

PoolingBlock::PoolingBlock(Parameters& params, const std::string& name, int64_t in, int64_t out)
    : conv1_(params, name + ".conv1", in, out, 3, 1, 1),
      bn1_(params, name + ".bn1", out),
      conv2_(params, name + ".conv2", out, out, 3, 1, 1),
      bn2_(params, name + ".bn2", out),
      pool_(2, 2, 0),
      down_conv_(params, name + ".downsample.0", in, out, 1, 1, 0),
      down_bn_(params, name + ".downsample.1", out),
      down_pool_(2, 2, 0) {}

Tensor PoolingBlock::forward(StepContext& ctx, const Tensor& x) {
  Tensor h = relu_.forward(ctx, bn1_.forward(ctx, conv1_.forward(ctx, x)));
  h = pool_.forward(ctx, bn2_.forward(ctx, conv2_.forward(ctx, h)));
  Tensor shortcut = down_pool_.forward(ctx, down_bn_.forward(ctx, down_conv_.forward(ctx, x)));
  return join_.forward(ctx, h, shortcut);
}

Tensor PoolingBlock::backward(StepContext& ctx, const Tensor& dy) {
  const Tensor dsum = join_.backward(ctx, dy);
  Tensor d = conv2_.backward(ctx, bn2_.backward(ctx, pool_.backward(ctx, dsum)));
  Tensor dx = conv1_.backward(ctx, bn1_.backward(ctx, relu_.backward(ctx, d)));
  ctx.backend.add_(
      dx, down_conv_.backward(ctx, down_bn_.backward(ctx, down_pool_.backward(ctx, dsum))));
  return dx;
}

// ---------------------------------------------------------------- ClassifierHead

ClassifierHead::ClassifierHead(Parameters& params, const std::string& name, int64_t in,
                               int64_t classes)
    : params_(params) {
  weight_ = params.declare(name + ".weight", Shape{classes, in}, Init::uniform_fan_in,
                           ParamKind::decayed, in, classes);
  bias_ = params.declare(name + ".bias", Shape{classes}, Init::uniform_fan_in,
                         ParamKind::not_decayed, in, classes);
}

Tensor ClassifierHead::forward(StepContext& ctx, const Tensor& x) {
  x_shape_ = x.shape();
  pooled_ = ctx.arena.take(Shape{x.dim(0), x.dim(1)}, x.dtype(), "avgpool");
  ctx.backend.global_avg_pool_forward(x, pooled_);
  const ParamEntry& w = params_[weight_];
  Tensor logits = ctx.arena.take(Shape{x.dim(0), w.shape[0]}, x.dtype(), "logits");
  ctx.backend.linear_forward(pooled_, w.value, params_[bias_].value, logits);
  return logits;
}

Tensor ClassifierHead::backward(StepContext& ctx, const Tensor& dy) {
  Tensor dpooled = ctx.arena.take(pooled_.shape(), dy.dtype(), "avgpool");
  ctx.backend.linear_backward(pooled_, params_[weight_].value, dy, dpooled, params_[weight_].grad,
                              params_[bias_].grad);
  Tensor dx = ctx.arena.take(x_shape_, dy.dtype(), "avgpool");
  ctx.backend.global_avg_pool_backward(dpooled, dx);
  return dx;
}

}  // namespace scenecam
