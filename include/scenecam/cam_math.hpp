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

}  // namespace scenecam
