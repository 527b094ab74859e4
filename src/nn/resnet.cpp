// ResNets of basic or bottleneck blocks (18, 34, 50 and narrower variants), in torchvision's
// structure and parameter names.
#include <string>

#include "scenecam/nn.hpp"
#include "scenecam/run_config.hpp"

namespace scenecam {

ResNetSpec resnet_spec(const ModelConfig& m) {
  ResNetSpec s;
  s.classes = m.classes;
  if (m.arch == "resnet18") {
    s.blocks = {2, 2, 2, 2};
  } else if (m.arch == "resnet34") {
    s.blocks = {3, 4, 6, 3};
  } else if (m.arch == "resnet50") {
    s.blocks = {3, 4, 6, 3};
    s.block = BlockKind::bottleneck;
  } else if (m.arch == "seed_resnet") {
    s.blocks = {2, 2, 2, 2};
    s.block = BlockKind::pooling;
    s.stem_pool_pad = 0;
  } else {
    fail("model.arch: unknown architecture '", m.arch, "'");
  }
  if (!m.blocks.empty()) s.blocks = m.blocks;
  const int64_t w = m.width;
  SC_CHECK(w >= 1, "resnet: model.width is ", w, "; it must be at least 1");
  s.stem_channels = w;
  s.widths = {w, 2 * w, 4 * w, 8 * w};
  if (m.stem == "small") {
    s.stem_kernel = 3;
    s.stem_stride = 1;
    s.stem_pool = false;
  }
  return s;
}

ResNet::ResNet(const ResNetSpec& spec) : spec_(spec) {
  SC_CHECK(!spec.widths.empty() && spec.widths.size() == spec.blocks.size(),
           "resnet: widths and blocks must list the same, non-zero number of stages");
  names_ = {"conv1", "bn1", "relu"};
  layers_.push_back(std::make_unique<Conv2d>(params_, "conv1", spec.in_channels, spec.stem_channels,
                                             spec.stem_kernel, spec.stem_stride,
                                             spec.stem_kernel / 2));
  layers_.push_back(std::make_unique<BatchNorm2d>(params_, "bn1", spec.stem_channels));
  layers_.push_back(std::make_unique<ReLU>());
  if (spec.stem_pool) {
    layers_.push_back(std::make_unique<MaxPool2d>(3, 2, spec.stem_pool_pad));
    names_.push_back("maxpool");
  }
  int64_t channels = spec.stem_channels;
  for (size_t s = 0; s < spec.widths.size(); ++s) {
    for (int b = 0; b < spec.blocks[s]; ++b) {
      const int stride = (b == 0 && s > 0) ? 2 : 1;
      const std::string name = "layer" + std::to_string(s + 1) + "." + std::to_string(b);
      const int64_t width = spec.widths[s];
      names_.push_back(name);
      switch (spec.block) {
        case BlockKind::basic:
          layers_.push_back(std::make_unique<BasicBlock>(params_, name, channels, width, stride));
          channels = width;
          break;
        case BlockKind::bottleneck:
          layers_.push_back(std::make_unique<Bottleneck>(params_, name, channels, width, stride));
          channels = width * Bottleneck::kExpansion;
          break;
        case BlockKind::pooling:
          // The first block of every stage pools; the stem's pool already halved the input
          // for the first stage, as in the notebook.
          if (b == 0) {
            layers_.push_back(std::make_unique<PoolingBlock>(params_, name, channels, width));
          } else {
            layers_.push_back(std::make_unique<BasicBlock>(params_, name, channels, width, 1));
          }
          channels = width;
          break;
      }
    }
  }
  layers_.push_back(std::make_unique<ClassifierHead>(params_, "fc", channels, spec.classes));
  names_.push_back("fc");
}

std::vector<std::string> ResNet::layer_names() const {
  std::vector<std::string> out = names_;
  for (size_t s = 1; s <= spec_.widths.size(); ++s)
    out.push_back("layer" + std::to_string(s));
  return out;
}

int ResNet::layer_index(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return static_cast<int>(i);
  // A stage is its last block.
  const std::string prefix = name + ".";
  int last = -1;
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i].rfind(prefix, 0) == 0) last = static_cast<int>(i);
  if (last >= 0 && name.rfind("layer", 0) == 0) return last;
  std::string known;
  for (const std::string& n : layer_names())
    known += (known.empty() ? "" : ", ") + n;
  fail("unknown layer '", name, "' (this model has: ", known, ")");
}

Tensor ResNet::forward(StepContext& ctx, const Tensor& x, int layer, Tensor* activation) {
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(ctx, h);
    if (int(i) == layer) *activation = h;
  }
  return h;
}

Tensor ResNet::forward_from(StepContext& ctx, const Tensor& activation, int layer) {
  Tensor h = activation;
  for (size_t i = layer + 1; i < layers_.size(); ++i)
    h = layers_[i]->forward(ctx, h);
  return h;
}

Tensor ResNet::backward_to(StepContext& ctx, const Tensor& dlogits, int layer) {
  Tensor d = dlogits;
  for (int i = static_cast<int>(layers_.size()) - 1; i > layer; --i)
    d = layers_[i]->backward(ctx, d);
  return d;
}

Tensor ResNet::forward(StepContext& ctx, const Tensor& x) {
  Tensor h = x;
  for (auto& layer : layers_)
    h = layer->forward(ctx, h);
  return h;
}

void ResNet::backward(StepContext& ctx, const Tensor& dlogits) {
  backward_to(ctx, dlogits, backward_stop_);
}

void ResNet::set_frozen(const std::vector<bool>& frozen) {
  params_.set_frozen(frozen);
  // A layer's tensors are named "<layer>.<...>"; below the lowest layer with a trainable one,
  // no gradient is needed.
  backward_stop_ = static_cast<int>(names_.size()) - 1;
  for (size_t i = names_.size(); i-- > 0;)
    for (const ParamEntry& e : params_.entries())
      if (e.kind != ParamKind::buffer && !e.frozen && e.name.rfind(names_[i] + ".", 0) == 0)
        backward_stop_ = static_cast<int>(i) - 1;
}

}  // namespace scenecam
