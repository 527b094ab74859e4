// Synthetic scenes, drawn procedurally from a counter-based seed (image i needs no other image).
#include <algorithm>
#include <cmath>
#include <random>

#include "scenecam/data.hpp"
#include "internal/random.hpp"

namespace scenecam {
namespace {

// Is (u, v), in object coordinates [-1, 1]^2, inside the shape of class `label`?
bool inside_shape(int label, double u, double v) {
  const double r = std::sqrt(u * u + v * v);
  switch (label) {
    case 0:
      return r <= 1.0;  // disc
    case 1:
      return std::abs(u) <= 0.85 && std::abs(v) <= 0.85;  // square
    case 2:
      return v <= 0.9 && v >= -0.9 && std::abs(u) <= (v + 0.9) / 1.8;  // triangle
    case 3:
      return std::abs(u) <= 0.3 || std::abs(v) <= 0.3;  // cross
    case 4:
      return r <= 1.0 && r >= 0.55;  // ring
    default:
      return std::abs(u) + std::abs(v) <= 1.0;  // diamond
  }
}

// The texture that goes with each class: 1 keeps the object's colour, 0 darkens it.
bool texture_on(int label, double u, double v) {
  switch (label) {
    case 0:
      return true;  // solid
    case 1:
      return static_cast<int>(std::floor((v + 1) * 3)) % 2 == 0;  // horizontal stripes
    case 2:
      return (static_cast<int>(std::floor((u + 1) * 3)) +
              static_cast<int>(std::floor((v + 1) * 3))) %
                 2 ==
             0;  // checks
    case 3:
      return static_cast<int>(std::floor((u + 1) * 4)) % 2 == 0;  // vertical stripes
    case 4:
      return true;  // solid
    default:
      return static_cast<int>(std::floor((u + v + 2) * 3)) % 2 == 0;  // diagonal stripes
  }
}

}  // namespace

const char* SyntheticScenes::class_name(int label) {
  static const char* names[kClasses] = {"disc", "square", "triangle", "cross", "ring", "diamond"};
  return names[label];
}

SyntheticScenes::SyntheticScenes(int size, uint64_t seed) : size_(size), seed_(seed) {
  SC_CHECK(size >= 16, "synthetic scenes: image size ", size, " is below the minimum of 16");
}

ImageU8 SyntheticScenes::draw(int64_t index, int* label, Box* box) const {
  std::mt19937_64 rng(derive_seed(seed_, {static_cast<uint64_t>(index)}));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  *label = static_cast<int>(rng() % kClasses);

  ImageU8 img;
  img.height = img.width = size_;
  img.rgb.resize(static_cast<size_t>(size_) * size_ * 3);
  // Background: a gradient between two random colours, in a random direction, plus noise.
  double c0[3], c1[3], obj[3];
  for (int c = 0; c < 3; ++c)
    c0[c] = 255 * unit(rng), c1[c] = 255 * unit(rng);
  const double angle = 2 * M_PI * unit(rng);
  const double dx = std::cos(angle), dy = std::sin(angle);
  // The object's colour: far enough from the background's mean to be visible.
  do {
    for (int c = 0; c < 3; ++c)
      obj[c] = 255 * unit(rng);
  } while (std::abs(obj[0] + obj[1] + obj[2] -
                    (c0[0] + c1[0] + c0[1] + c1[1] + c0[2] + c1[2]) / 2) < 120);
  const double scale = size_ * (0.18 + 0.17 * unit(rng));  // half-size in pixels
  const double cx = scale + (size_ - 2 * scale) * unit(rng);
  const double cy = scale + (size_ - 2 * scale) * unit(rng);
  box->x0 = std::max(0, static_cast<int>(std::floor(cx - scale)));
  box->y0 = std::max(0, static_cast<int>(std::floor(cy - scale)));
  box->x1 = std::min(size_, static_cast<int>(std::ceil(cx + scale)));
  box->y1 = std::min(size_, static_cast<int>(std::ceil(cy + scale)));

  std::normal_distribution<double> noise(0.0, 12.0);
  for (int y = 0; y < size_; ++y) {
    for (int x = 0; x < size_; ++x) {
      const double t = 0.5 + 0.5 * ((x - size_ / 2.0) * dx + (y - size_ / 2.0) * dy) / size_;
      const double u = (x + 0.5 - cx) / scale, v = (y + 0.5 - cy) / scale;
      const bool in_object = std::abs(u) <= 1 && std::abs(v) <= 1 && inside_shape(*label, u, v);
      for (int c = 0; c < 3; ++c) {
        double value = c0[c] + (c1[c] - c0[c]) * t;
        if (in_object) value = texture_on(*label, u, v) ? obj[c] : 0.35 * obj[c];
        value += noise(rng);
        img.rgb[(static_cast<size_t>(y) * size_ + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
      }
    }
  }
  return img;
}

}  // namespace scenecam
