// ResNet of basic blocks, in torchvision's structure and parameter names.
#include <string>

#include "scenecam/config.hpp"
#include "scenecam/nn.hpp"

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
  const int64_t w = m.width > 0 ? m.width : 64;
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
  layers_.push_back(std::make_unique<Conv2d>(params_, "conv1", spec.in_channels, spec.stem_channels,
                                             spec.stem_kernel, spec.stem_stride,
                                             spec.stem_kernel / 2));
  layers_.push_back(std::make_unique<BatchNorm2d>(params_, "bn1", spec.stem_channels));
  layers_.push_back(std::make_unique<ReLU>());
  if (spec.stem_pool) layers_.push_back(std::make_unique<MaxPool2d>(3, 2, spec.stem_pool_pad));
  int64_t channels = spec.stem_channels;
  for (size_t s = 0; s < spec.widths.size(); ++s) {
    for (int b = 0; b < spec.blocks[s]; ++b) {
      const int stride = (b == 0 && s > 0) ? 2 : 1;
      const std::string name = "layer" + std::to_string(s + 1) + "." + std::to_string(b);
      const int64_t width = spec.widths[s];
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
}

Tensor ResNet::forward(StepContext& ctx, const Tensor& x) {
  Tensor h = x;
  for (auto& layer : layers_)
    h = layer->forward(ctx, h);
  return h;
}

void ResNet::backward(StepContext& ctx, const Tensor& dlogits) {
  Tensor d = dlogits;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it)
    d = (*it)->backward(ctx, d);
}

}  // namespace scenecam
