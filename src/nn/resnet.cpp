// ResNet of basic blocks, in torchvision's structure and parameter names.
#include <string>

#include "scenecam/nn.hpp"

namespace scenecam {

ResNet::ResNet(const ResNetSpec& spec) : spec_(spec) {
  SC_CHECK(!spec.widths.empty() && spec.widths.size() == spec.blocks.size(),
           "resnet: widths and blocks must list the same, non-zero number of stages");
  layers_.push_back(std::make_unique<Conv2d>(params_, "conv1", spec.in_channels, spec.stem_channels,
                                             spec.stem_kernel, spec.stem_stride,
                                             spec.stem_kernel / 2));
  layers_.push_back(std::make_unique<BatchNorm2d>(params_, "bn1", spec.stem_channels));
  layers_.push_back(std::make_unique<ReLU>());
  if (spec.stem_pool) layers_.push_back(std::make_unique<MaxPool2d>(3, 2, 1));
  int64_t channels = spec.stem_channels;
  for (size_t s = 0; s < spec.widths.size(); ++s) {
    for (int b = 0; b < spec.blocks[s]; ++b) {
      const int stride = (b == 0 && s > 0) ? 2 : 1;
      const std::string name = "layer" + std::to_string(s + 1) + "." + std::to_string(b);
      layers_.push_back(
          std::make_unique<BasicBlock>(params_, name, channels, spec.widths[s], stride));
      channels = spec.widths[s];
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
