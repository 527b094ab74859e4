// CNN Fixations (Mopuri, Garg and Babu, IEEE TIP 2019): the predicted class's evidence unravelled
// backwards through the network, from the dense layer to pixel positions, with the authors' rules
// for residual networks. The network is re-run on the host for one image at a time from its
// weights (batch norms folded into scale and shift), keeping every activation the rules read.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "scenecam/nn.hpp"

namespace scenecam {

// One image's activation [C, H, W] on the host.
struct HostActivation {
  int64_t C = 0, H = 0, W = 0;
  std::vector<float> v;
  float at(int64_t c, int64_t y, int64_t x) const { return v[(c * H + y) * W + x]; }
};

class FixationNet {
 public:
  // The weights of `model` (a ResNet of basic or bottleneck blocks), copied to the host.
  FixationNet(const ResNet& model, Backend& backend);
  ~FixationNet();
  // The logits of one normalised image [3, S, S] (a check that the host run is the model's).
  std::vector<float> logits(const float* image, int64_t S) const;
  // The fixations for class `target`: pixel positions (x, y), each once, in row-major order.
  std::vector<std::array<int32_t, 2>> unravel(const float* image, int64_t S, int32_t target) const;

  struct Trace;  // every activation of one image's run (fixations.cpp)

 private:
  Trace run(const float* image, int64_t S) const;
  ResNetSpec spec_;
  std::map<std::string, std::vector<float>> weights_;  // by tensor name
  std::map<std::string, Shape> shapes_;
};

// The density map of fixations on an S x S image: one count per fixation, blurred by a Gaussian
// of standard deviation sigma (borders reflected, as cv2.GaussianBlur's default).
std::vector<float> fixation_density(const std::vector<std::array<int32_t, 2>>& points, int64_t S,
                                    double sigma);

}  // namespace scenecam
