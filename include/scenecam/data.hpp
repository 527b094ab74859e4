// Image data the engine trains on. Images are uint8 RGB, row-major [H, W, 3], the form they are
// cached in and sent to the device in; Backend::augment_batch turns a batch into normalised float
// NCHW.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scenecam/elementwise.hpp"
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

}  // namespace scenecam
