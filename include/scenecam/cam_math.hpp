// The Grad-CAM family's maths below the Backend seam, shared by the CPU backend and the CUDA
// kernels as elementwise.hpp is: the methods, one pixel's part of a channel weight, one pixel's
// part of the channel sum, and the bilinear resize of a map (pytorch-grad-cam's, which is
// cv2.resize's INTER_LINEAR). Nothing here may allocate or include a CUDA header.
#pragma once

#include <cstdint>

#include "scenecam/elementwise.hpp"

namespace scenecam {

// Explanation methods. The first five are the gradient CAM methods that Backend::cam_maps
// computes from a layer's activations A and gradients G (per channel c, pixel p):
//   gradcam    w_c = mean_p G,                        map = relu(sum_c w_c A_c)
//   gradcam++  w_c = sum_p relu(G) alpha,  alpha = G^2 / (2 G^2 + sum_p A * G^3 + 1e-6)
//   xgradcam   w_c = sum_p G A / (sum_p A + 1e-7)
//   hirescam   map = relu(sum_c G_c A_c)              (element-wise, no weights)
//   layercam   map = relu(sum_c relu(G_c) A_c)
//   gradcam-elementwise  map = relu(sum_c relu(G_c A_c))
// The others are computed above the seam by the explainer.
enum class CamMethod {
  gradcam,
  gradcam_pp,
  xgradcam,
  hirescam,
  layercam,
  gradcam_elementwise,  // pytorch-grad-cam's GradCAMElementWise
  cam,                  // classic CAM: the dense layer's weights for the target over the last stage
  saliency,             // |d score / d input|, the maximum over colour channels
  smoothgrad,    // saliency of the gradient averaged over 16 noisy copies (noise 15% of the range)
  occlusion,     // drop of the target's probability when a patch (1/8 of the side) is blanked
  eigencam,      // the activations' first principal component (pytorch-grad-cam's EigenCAM)
  eigengradcam,  // the same of G * A (EigenGradCAM)
  scorecam,      // softmax over channels of the target's logit on the image masked by each channel
  ablationcam,   // relative drop of the target's logit when each channel is ablated
  integrated_gradients,  // (x - black) times the path integral of the gradient (Captum's)
  guided_backprop,       // the input gradient with every ReLU passing only positive gradients
  guided_gradcam,        // Guided Backprop times the Grad-CAM map
  fullgrad,              // input-gradient and every batch norm's bias-gradient terms (FullGrad)
  cnn_fixations,         // the class's evidence unravelled to pixels, blurred (CNN Fixations)
};

// A method Backend::cam_maps computes.
SCENECAM_HD bool is_gradient_cam(CamMethod m) {
  return m == CamMethod::gradcam || m == CamMethod::gradcam_pp || m == CamMethod::xgradcam ||
         m == CamMethod::hirescam || m == CamMethod::layercam ||
         m == CamMethod::gradcam_elementwise;
}

// Whether the method first reduces each channel to one weight.
SCENECAM_HD bool cam_uses_channel_weights(CamMethod m) {
  return m == CamMethod::gradcam || m == CamMethod::gradcam_pp || m == CamMethod::xgradcam;
}

// One pixel's term of its channel's weight: g and a at the pixel, sum_a the plane's activation
// sum. The weight is the sum of the terms over the plane, then cam_channel_weight().
template <typename T>
SCENECAM_HD T cam_weight_term(CamMethod m, T g, T a, T sum_a) {
  if (m == CamMethod::gradcam) return g;
  if (m == CamMethod::xgradcam) return g * a / (sum_a + T(1e-7));
  const T g2 = g * g, g3 = g2 * g;  // gradcam++
  const T alpha = g != T(0) ? g2 / (T(2) * g2 + sum_a * g3 + T(1e-6)) : T(0);
  return (g > T(0) ? g : T(0)) * alpha;
}

template <typename T>
SCENECAM_HD T cam_channel_weight(CamMethod m, T sum_of_terms, int64_t hw) {
  return m == CamMethod::gradcam ? sum_of_terms / T(hw) : sum_of_terms;
}

// One channel's term of a pixel's map value, before the final ReLU (relu_element).
template <typename T>
SCENECAM_HD T cam_sum_term(CamMethod m, T weight, T g, T a) {
  if (m == CamMethod::hirescam) return g * a;
  if (m == CamMethod::layercam) return (g > T(0) ? g : T(0)) * a;
  if (m == CamMethod::gradcam_elementwise) return g * a > T(0) ? g * a : T(0);
  return weight * a;
}

// pytorch-grad-cam's per-map scaling of one value, given the map's minimum and maximum:
// (x - min) / (max(x - min) + 1e-7), where max(x - min) = max - min exactly (rounding is
// monotonic).
SCENECAM_HD float cam_min_max_element(float x, float lo, float hi) {
  return (x - lo) / ((hi - lo) + 1e-7f);
}

// Pixel (x, y) of a map resized from h x w to H x W: half-pixel centres, clamped to the map.
SCENECAM_HD float resize_bilinear_pixel(const float* map, int64_t h, int64_t w, int64_t H,
                                        int64_t W, int64_t x, int64_t y) {
  const float fy = fminf(fmaxf((y + 0.5f) * float(h) / float(H) - 0.5f, 0.0f), float(h - 1));
  const float fx = fminf(fmaxf((x + 0.5f) * float(w) / float(W) - 0.5f, 0.0f), float(w - 1));
  return bilinear_sample([&](int px, int py) { return map[int64_t(py) * w + px]; }, fx, fy, int(w),
                         int(h));
}

// Pixel (x, y) of a map resized from h x w to H x W with the corners aligned (PyTorch's
// UpsamplingBilinear2d, which ScoreCAM uses): source position x * (w - 1) / (W - 1).
SCENECAM_HD float resize_align_corners_pixel(const float* map, int64_t h, int64_t w, int64_t H,
                                             int64_t W, int64_t x, int64_t y) {
  const float fy = H > 1 ? float(y) * float(h - 1) / float(H - 1) : 0.0f;
  const float fx = W > 1 ? float(x) * float(w - 1) / float(W - 1) : 0.0f;
  return bilinear_sample([&](int px, int py) { return map[int64_t(py) * w + px]; }, fx, fy, int(w),
                         int(h));
}

// A standard normal value that depends only on (seed, index): splitmix64 of both, two 24-bit
// uniforms, Box-Muller. The explainer's noise is drawn with it on the backend's device, so every
// backend draws the same noise.
SCENECAM_HD uint64_t mix_bits(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
SCENECAM_HD float normal_at(uint64_t seed, uint64_t index) {
  const uint64_t bits = mix_bits(mix_bits(seed + 0x9E3779B97F4A7C15ull) ^ (index * 0xD1B54A32D192ED03ull));
  const float u1 = (float((bits >> 40) & 0xffffff) + 1.0f) * 0x1.0p-24f;  // (0, 1]
  const float u2 = float((bits >> 16) & 0xffffff) * 0x1.0p-24f;           // [0, 1)
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

// The perturbed copies the many-forward methods run (Backend::explain_perturb). Copy j of a batch
// is described by one plan row {source, kind, p0, p1, p2, p3}, read from tensor x [N, C, H, W]:
//   blend   base_c + p0 (x - base_c)            (Integrated Gradients' path from the baseline)
//   noise   x + p0 normal_at(seed, element)     (SmoothGrad; element = index in the output)
//   patch   base_c inside rows [p0, p1) and columns [p2, p3), x elsewhere   (occlusion)
//   mask    x (up(m) - p1) / (p2 - p1), m = maps[source, p0], up = resize_align_corners_pixel,
//           p1 and p2 the plane's minimum and maximum; 0 where p2 <= p1     (ScoreCAM)
//   ablate  x, with channel p0 set to p1                                    (AblationCAM)
enum class Perturb { blend = 0, noise = 1, patch = 2, mask = 3, ablate = 4 };
constexpr int kPlanFields = 6;

// Whether a plan row can be carried out: its source among the n inputs, a known kind, and for a
// mask its plane among the m planes. A row that cannot makes a copy of NaN.
SCENECAM_HD bool perturb_row_valid(const float* row, int64_t n, int64_t m) {
  // Ranges first: converting NaN or a huge float to an integer is undefined.
  if (!(row[0] >= 0.0f && row[0] < float(n)) || !(row[1] >= 0.0f && row[1] < 5.0f)) return false;
  return int(row[1]) != int(Perturb::mask) || (row[2] >= 0.0f && row[2] < float(m));
}

// Element (c, y, x) of copy `copy` (plan row `row`); value = x[source, c, y, x]; maps points at
// maps[source] ([m, h, w]); element is the index of the output element.
SCENECAM_HD float perturb_element(const float* row, float value, float base, int64_t c, int64_t y,
                                  int64_t x, int64_t H, int64_t W, const float* maps, int64_t h,
                                  int64_t w, uint64_t seed, int64_t element) {
  const int kind = int(row[1]);
  const float p0 = row[2], p1 = row[3], p2 = row[4], p3 = row[5];
  if (kind == int(Perturb::blend)) return base + p0 * (value - base);
  if (kind == int(Perturb::noise)) return value + p0 * normal_at(seed, uint64_t(element));
  if (kind == int(Perturb::patch))
    return float(y) >= p0 && float(y) < p1 && float(x) >= p2 && float(x) < p3 ? base : value;
  if (kind == int(Perturb::mask)) {
    if (p2 <= p1) return 0.0f;
    const float m = resize_align_corners_pixel(maps + int64_t(p0) * h * w, h, w, H, W, x, y);
    return value * ((m - p1) / (p2 - p1));
  }
  return float(c) == p0 ? p1 : value;  // ablate
}

}  // namespace scenecam
