// Layers and residual networks built on the Backend seam.
//
// Memory: a model's tensors live in four places, each laid out once when the model is
// materialised and never reallocated:
//   - Parameters::values: every trainable tensor in one contiguous arena, weight-decayed tensors
//     first, then the others (biases, batch-norm scales), so an optimizer updates each group with
//     one call over a flat view;
//   - Parameters::grads: the same layout, for gradients (written, not accumulated, each step);
//   - Parameters::buffers: non-trainable state (batch-norm running statistics);
//   - the step arena (StepContext::arena): activations and the tensors saved for backward, leased
//     with Pool::take and dropped all at once by the caller's reset() after the step.
// Parameter names follow torchvision's ResNet ("layer1.0.conv1.weight", "bn1.running_mean", ...)
// so weights can move between scenecam and PyTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "scenecam/backend.hpp"

namespace scenecam {

enum class Init : uint8_t {
  zeros,
  ones,
  kaiming_normal_fan_out,  // N(0, 2 / fan_out): torchvision's ResNet convolutions
  uniform_fan_in,          // U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's nn.Linear
};

enum class ParamKind : uint8_t { decayed, not_decayed, buffer };

struct ParamEntry {
  std::string name;
  Shape shape;
  Init init;
  ParamKind kind;
  int64_t fan_in = 0, fan_out = 0;
  Tensor value;
  Tensor grad;          // undefined for buffers
  bool frozen = false;  // fine-tuning: no gradient is computed for it, no update applied; a
                        // frozen batch norm (its weight) runs in inference mode
};

class Parameters {
 public:
  // Declares a tensor; returns its index. Only before materialize().
  int declare(std::string name, const Shape& shape, Init init, ParamKind kind, int64_t fan_in = 0,
              int64_t fan_out = 0);
  // Lays out and initialises every declared tensor on the backend's device, in f32 (training)
  // or f64 (whole-model gradient checks). Initial values are drawn on the host from `seed` and
  // copied, so every backend starts from the same weights.
  void materialize(Backend& backend, uint64_t seed, DType dtype = DType::f32);

  const ParamEntry& operator[](int i) const { return entries_[i]; }
  // One flag per entry (ParamEntry::frozen).
  void set_frozen(const std::vector<bool>& frozen);
  const std::vector<ParamEntry>& entries() const { return entries_; }
  // Flat views of the whole arenas, and of the decayed / not-decayed groups within them.
  Tensor values() const { return values_; }
  Tensor grads() const { return grads_; }
  Tensor decayed_values() const { return values_.slice_flat(0, decayed_elems_); }
  Tensor decayed_grads() const { return grads_.slice_flat(0, decayed_elems_); }
  Tensor other_values() const { return values_.slice_flat(decayed_elems_, values_.numel()); }
  Tensor other_grads() const { return grads_.slice_flat(decayed_elems_, grads_.numel()); }
  int64_t trainable_count() const;  // elements, without alignment padding
  const Pool& value_pool() const { return *value_pool_; }

 private:
  std::vector<ParamEntry> entries_;
  std::unique_ptr<Pool> value_pool_, grad_pool_, buffer_pool_;
  Block value_block_, grad_block_, buffer_block_;
  Tensor values_, grads_, buffers_;
  int64_t decayed_elems_ = 0;
};

class BatchNorm2d;

// What a layer needs to run: the backend, the step arena, and the mode.
struct StepContext {
  Backend& backend;
  Pool& arena;
  bool training;
  // Explanations: every ReLU's backward passes only positive gradients where its unit was active
  // (Guided Backprop, Springenberg et al. 2015, as pytorch-grad-cam's GuidedBackpropReLU).
  bool guided_relu = false;
  // Explanations: each batch norm's backward first calls this with itself and the gradient of
  // its output (FullGrad's bias-gradients).
  const std::function<void(const BatchNorm2d&, const Tensor& dy)>* batch_norm_gradient = nullptr;
};

class Layer {
 public:
  virtual ~Layer() = default;
  // Returns y, leased from ctx.arena; keeps what backward needs (views into the arena).
  virtual Tensor forward(StepContext& ctx, const Tensor& x) = 0;
  // Writes this layer's parameter gradients; returns dx (leased from ctx.arena).
  virtual Tensor backward(StepContext& ctx, const Tensor& dy) = 0;
};

class Conv2d final : public Layer {
 public:
  Conv2d(Parameters& params, const std::string& name, int64_t in, int64_t out, int kernel,
         int stride, int pad);
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;

 private:
  Parameters& params_;
  int weight_;
  Conv2dParams conv_;
  Tensor x_;
};

class BatchNorm2d final : public Layer {
 public:
  BatchNorm2d(Parameters& params, const std::string& name, int64_t channels,
              bool zero_init = false);
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;
  // The bias of the affine map inference applies, beta - running_mean * gamma /
  // sqrt(running_var + eps), per channel on the host (FullGrad's bias of a batch norm).
  std::vector<double> folded_bias(Backend& backend) const;

 private:
  Parameters& params_;
  int gamma_, beta_, mean_, var_;
  BatchNormParams bn_;
  bool training_ = true;  // the mode of the last forward, which backward differentiates
  Shape x_shape_;
  Tensor x_, save_mean_, save_invstd_;
};

class ReLU final : public Layer {
 public:
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;

 private:
  Tensor y_;
};

class MaxPool2d final : public Layer {
 public:
  MaxPool2d(int kernel, int stride, int pad);
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;

 private:
  Pool2dParams pool_;
  Tensor x_;
};

// The join that ends every residual block: y = relu(residual + shortcut). Its backward returns
// one gradient, which the block sends down both paths.
class ResidualJoin {
 public:
  Tensor forward(StepContext& ctx, const Tensor& residual, const Tensor& shortcut);
  Tensor backward(StepContext& ctx, const Tensor& dy);

 private:
  Tensor y_;
};

// torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the
// shortcut is the identity or, when the shape changes, a 1x1 strided conv + batch norm.
class BasicBlock final : public Layer {
 public:
  BasicBlock(Parameters& params, const std::string& name, int64_t in, int64_t out, int stride);
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;
  ReLU relu_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
  std::unique_ptr<Conv2d> down_conv_;
  std::unique_ptr<BatchNorm2d> down_bn_;
  ResidualJoin join_;
};

// torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3):
// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)), output 4 x width.
class Bottleneck final : public Layer {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(Parameters& params, const std::string& name, int64_t in, int64_t width, int stride);
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;
  ReLU relu1_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
  ReLU relu2_;
  Conv2d conv3_;
  BatchNorm2d bn3_;
  std::unique_ptr<Conv2d> down_conv_;
  std::unique_ptr<BatchNorm2d> down_bn_;
  ResidualJoin join_;
};

// The reference notebook's "convolution block": a basic block whose residual path and shortcut
// (1x1 conv + batch norm) both end in a 2x2 max pool, so each stage halves the resolution by
// pooling rather than by a strided convolution.
class PoolingBlock final : public Layer {
 public:
  PoolingBlock(Parameters& params, const std::string& name, int64_t in, int64_t out);
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;
  ReLU relu_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
  MaxPool2d pool_;
  Conv2d down_conv_;
  BatchNorm2d down_bn_;
  MaxPool2d down_pool_;
  ResidualJoin join_;
};

// Global average pooling then a dense layer: [N, C, H, W] -> logits [N, classes].
class ClassifierHead final : public Layer {
 public:
  ClassifierHead(Parameters& params, const std::string& name, int64_t in, int64_t classes);
  Tensor forward(StepContext& ctx, const Tensor& x) override;
  Tensor backward(StepContext& ctx, const Tensor& dy) override;

 private:
  Parameters& params_;
  int weight_, bias_;
  Shape x_shape_;
  Tensor pooled_;
};

enum class BlockKind : uint8_t {
  basic,       // ResNet-18/34
  bottleneck,  // ResNet-50 and deeper; widths are the inner widths (outputs are 4x)
  pooling,     // the reference notebook: each stage opens with a PoolingBlock, then basic blocks
};

// A residual network: stem conv + bn + relu (+ 3x3/2 max pool), stages of blocks, head.
struct ResNetSpec {
  int64_t in_channels = 3;
  int64_t classes = 6;
  int64_t stem_channels = 64;
  int stem_kernel = 7, stem_stride = 2;
  bool stem_pool = true;
  int stem_pool_pad = 1;  // torchvision pads the stem's max pool by 1; Keras' "valid" pool by 0
  BlockKind block = BlockKind::basic;
  std::vector<int64_t> widths{64, 128, 256, 512};
  std::vector<int> blocks{2, 2, 2, 2};
};

struct ModelConfig;
// The network a config's model section describes (in_channels 3).
ResNetSpec resnet_spec(const ModelConfig& model);

class ResNet {
 public:
  explicit ResNet(const ResNetSpec& spec);
  void materialize(Backend& backend, uint64_t seed, DType dtype = DType::f32) {
    params_.materialize(backend, seed, dtype);
  }
  Tensor forward(StepContext& ctx, const Tensor& x);  // logits
  void backward(StepContext& ctx, const Tensor& dlogits);

  // Explanations look inside: the names of the points whose activation can be kept ("conv1",
  // "bn1", "relu", "maxpool", each block "layer2.1", each stage "layer2" = its last block), the
  // index of a name (throws, listing the names, for an unknown one), a forward that also returns
  // the activation at `layer`, and a backward that stops there and returns the gradient of the
  // output with respect to that activation (layer -1: the input image).
  std::vector<std::string> layer_names() const;
  int layer_index(const std::string& name) const;
  Tensor forward(StepContext& ctx, const Tensor& x, int layer, Tensor* activation);
  Tensor backward_to(StepContext& ctx, const Tensor& dlogits, int layer);
  // The logits from an activation at `layer` (the layers after it only).
  Tensor forward_from(StepContext& ctx, const Tensor& activation, int layer);
  Parameters& params() { return params_; }
  const Parameters& params() const { return params_; }
  // Freezes the tensors flagged (one flag per params() entry); backward() then stops below the
  // lowest layer that still trains.
  void set_frozen(const std::vector<bool>& frozen);
  const ResNetSpec& spec() const { return spec_; }

 private:
  ResNetSpec spec_;
  Parameters params_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> names_;  // one per layer
  int backward_stop_ = -1;          // backward() computes gradients of layers above this one
};

}  // namespace scenecam
