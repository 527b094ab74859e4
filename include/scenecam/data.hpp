// Image data the engine trains on. Images are uint8 RGB, row-major [H, W, 3], the form they are
// cached in; a batch is turned into normalised float NCHW when it is sampled.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scenecam/tensor.hpp"

namespace scenecam {

// An axis-aligned box in pixels, [x0, x1) x [y0, y1).
struct Box {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

struct ImageU8 {
  int height = 0, width = 0;
  std::vector<uint8_t> rgb;  // [H, W, 3]
};

// Synthetic scenes: each image holds one object over a background. The class is decided by the
// object alone (its shape and its texture); the background (a random two-colour gradient with
// noise) and the object's colour, position and scale are drawn the same way for every class, so
// they carry no class information and a model must look at the object to be right. Every
// image records its object's box, the ground truth for scoring explanations.
// Image i of a given seed is always the same, whatever order images are drawn in.
class SyntheticScenes {
 public:
  static constexpr int kClasses = 6;
  static const char* class_name(int label);  // "disc", "square", ...

  SyntheticScenes(int size, uint64_t seed);
  int size() const { return size_; }
  // Draws image `index`; writes its label and its object's box.
  ImageU8 draw(int64_t index, int* label, Box* box) const;

 private:
  int size_;
  uint64_t seed_;
};

// Per-channel mean and standard deviation applied as (x / 255 - mean) / std.
struct Normalization {
  float mean[3] = {0.485f, 0.456f, 0.406f};  // ImageNet's, as torchvision uses
  float std[3] = {0.229f, 0.224f, 0.225f};
};

// Writes images[k] into batch k of a float32 host tensor [N, 3, H, W].
void images_to_tensor(const std::vector<const ImageU8*>& images, const Normalization& norm,
                      const Tensor& out);

}  // namespace scenecam
