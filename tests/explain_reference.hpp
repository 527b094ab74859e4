// Double-precision references for the explanation tests, written out term by term from
// pytorch-grad-cam 1.5's and Captum's definitions (and cv2's and PyTorch's resizing rules).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "explain/projection.hpp"
#include "scenecam/nn.hpp"
#include "test_util.hpp"

namespace scenecam::reference {

// pytorch-grad-cam 1.5's formulas, term by term, in double.
inline std::vector<double> reference_cam(const std::string& method, const std::vector<float>& A,
                                         const std::vector<float>& G, int n, int c, int hw) {
  std::vector<double> cam(n * hw, 0.0);
  if (method == "eigencam" || method == "eigengradcam") {  // the projection has its own test
    for (int i = 0; i < n; ++i) {
      std::vector<float> planes(A.begin() + i * c * hw, A.begin() + (i + 1) * c * hw);
      if (method == "eigengradcam")
        for (int j = 0; j < c * hw; ++j)
          planes[j] *= G[i * c * hw + j];
      const std::vector<float> p = first_component_projection(planes.data(), c, hw);
      for (int j = 0; j < hw; ++j)
        cam[i * hw + j] = std::max(0.0f, p[j]);
    }
    return cam;
  }
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < c; ++k) {
      const float* a = A.data() + (i * c + k) * hw;
      const float* g = G.data() + (i * c + k) * hw;
      double sum_a = 0, weight = 0;
      for (int p = 0; p < hw; ++p)
        sum_a += a[p];
      if (method == "gradcam") {
        for (int p = 0; p < hw; ++p)
          weight += g[p];
        weight /= hw;
      } else if (method == "xgradcam") {
        for (int p = 0; p < hw; ++p)
          weight += double(g[p]) * a[p] / (sum_a + 1e-7);
      } else if (method == "gradcam++") {
        for (int p = 0; p < hw; ++p) {
          const double g2 = double(g[p]) * g[p], g3 = g2 * g[p];
          const double aij = g[p] != 0 ? g2 / (2 * g2 + sum_a * g3 + 1e-6) : 0;
          weight += std::max(0.0, double(g[p])) * aij;
        }
      }
      for (int p = 0; p < hw; ++p) {
        if (method == "hirescam")
          cam[i * hw + p] += double(g[p]) * a[p];
        else if (method == "layercam")
          cam[i * hw + p] += std::max(0.0, double(g[p])) * a[p];
        else if (method == "gradcam-elementwise")
          cam[i * hw + p] += std::max(0.0, double(g[p]) * a[p]);
        else
          cam[i * hw + p] += weight * a[p];
      }
    }
  }
  for (double& v : cam)
    v = std::max(v, 0.0);
  return cam;
}

// min-max as pytorch-grad-cam's scale_cam_image, in double.
inline void reference_min_max(std::vector<double>& x) {
  const double lo = *std::min_element(x.begin(), x.end());
  double hi = 0;
  for (double v : x)
    hi = std::max(hi, v - lo);
  for (double& v : x)
    v = (v - lo) / (hi + 1e-7);
}

// cv2.resize INTER_LINEAR, written out in double.
inline std::vector<double> reference_resize(const std::vector<double>& in, int h, int w, int H,
                                            int W) {
  std::vector<double> out(H * W);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const double fy = std::clamp((y + 0.5) * h / H - 0.5, 0.0, double(h - 1));
      const double fx = std::clamp((x + 0.5) * w / W - 0.5, 0.0, double(w - 1));
      const int y0 = int(fy), x0 = int(fx), y1 = std::min(y0 + 1, h - 1),
                x1 = std::min(x0 + 1, w - 1);
      const double ay = fy - y0, ax = fx - x0;
      out[y * W + x] = (1 - ay) * ((1 - ax) * in[y0 * w + x0] + ax * in[y0 * w + x1]) +
                       ay * ((1 - ax) * in[y1 * w + x0] + ax * in[y1 * w + x1]);
    }
  return out;
}

// PyTorch's UpsamplingBilinear2d (corners aligned), in double.
inline std::vector<double> reference_upsample_aligned(const float* in, int h, int w, int S) {
  std::vector<double> out(S * S);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      const double fy = S > 1 ? double(y) * (h - 1) / (S - 1) : 0;
      const double fx = S > 1 ? double(x) * (w - 1) / (S - 1) : 0;
      const int y0 = int(fy), x0 = int(fx), y1 = std::min(y0 + 1, h - 1),
                x1 = std::min(x0 + 1, w - 1);
      const double ay = fy - y0, ax = fx - x0;
      out[y * S + x] = (1 - ay) * ((1 - ax) * in[y0 * w + x0] + ax * in[y0 * w + x1]) +
                       ay * ((1 - ax) * in[y1 * w + x0] + ax * in[y1 * w + x1]);
    }
  return out;
}

// relu(sum_c weight[k, c] A[k, c]) for every image: the raw map of channel-weight methods.
inline std::vector<double> reference_weighted(const std::vector<float>& A,
                                              const std::vector<double>& wt, int n, int C, int hw) {
  std::vector<double> cam(n * hw, 0.0);
  for (int k = 0; k < n; ++k)
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < hw; ++p)
        cam[k * hw + p] += wt[k * C + c] * A[(k * C + c) * hw + p];
  for (double& v : cam)
    v = std::max(v, 0.0);
  return cam;
}

// ScoreCAM: the image masked by each min-max scaled upsampled channel; softmax over channels of
// the target's logit.
template <typename Logits>
inline std::vector<double> reference_score_cam(const Logits& logits_of, const test::D& x,
                                               const std::vector<float>& A,
                                               const std::vector<int>& targets, int n, int C, int h,
                                               int w, int S) {
  test::D masked(Shape{n * C, 3, S, S});
  for (int k = 0; k < n; ++k)
    for (int c = 0; c < C; ++c) {
      std::vector<double> up = reference_upsample_aligned(A.data() + (k * C + c) * h * w, h, w, S);
      const auto [lo, hi] = std::minmax_element(up.begin(), up.end());
      const double low = *lo, range = *hi - *lo;
      for (int ch = 0; ch < 3; ++ch)
        for (int p = 0; p < S * S; ++p)
          masked[((k * C + c) * 3 + ch) * S * S + p] =
              range > 0 ? x[(k * 3 + ch) * S * S + p] * (up[p] - low) / range : 0.0;
    }
  const std::vector<double> z = logits_of(masked, -1);
  std::vector<double> weights(n * C);
  for (int k = 0; k < n; ++k) {
    double top = -1e300, sum = 0;
    for (int c = 0; c < C; ++c)
      top = std::max(top, z[(k * C + c) * 6 + targets[k]]);
    for (int c = 0; c < C; ++c)
      sum += weights[k * C + c] = std::exp(z[(k * C + c) * 6 + targets[k]] - top);
    for (int c = 0; c < C; ++c)
      weights[k * C + c] /= sum;
  }
  return reference_weighted(A, weights, n, C, h * w);
}

// AblationCAM: (y - y_c) / y with channel c zeroed (the activations follow a ReLU).
template <typename Logits>
inline std::vector<double> reference_ablation_cam(const Logits& logits_of,
                                                  const std::vector<float>& A, const Tensor& logits,
                                                  const std::vector<int>& targets, int layer, int n,
                                                  int C, int h, int w) {
  test::D ablated(Shape{n * C, C, h, w});
  for (int k = 0; k < n; ++k)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < C * h * w; ++i)
        ablated[(k * C + c) * C * h * w + i] = i / (h * w) == c ? 0.0 : A[k * C * h * w + i];
  const std::vector<double> z = logits_of(ablated, layer);
  std::vector<double> weights(n * C);
  for (int k = 0; k < n; ++k) {
    const double y = logits.data<double>()[k * 6 + targets[k]];
    for (int c = 0; c < C; ++c)
      weights[k * C + c] = (y - z[(k * C + c) * 6 + targets[k]]) / y;
  }
  return reference_weighted(A, weights, n, C, h * w);
}

// Integrated Gradients, Captum's riemann_trapezoid from a black image; |sum over channels|.
inline std::vector<double> reference_integrated_gradients(ResNet& ref, Backend& backend,
                                                          Pool& arena, const test::D& x,
                                                          const std::vector<int>& targets,
                                                          int steps, int n, int S) {
  const Normalization norm;
  const int P = S * S;
  std::vector<double> attribution(n * 3 * P, 0.0), map(n * P, 0.0);
  for (int i = 0; i < steps; ++i) {
    const double alpha = double(i) / (steps - 1);
    const double step = (i == 0 || i == steps - 1 ? 0.5 : 1.0) / (steps - 1);
    test::D point(Shape{n, 3, S, S}), dlogits(Shape{n, 6});
    for (int k = 0; k < n; ++k) {
      dlogits[k * 6 + targets[k]] = 1.0;
      for (int ch = 0; ch < 3; ++ch) {
        const double black = -norm.mean[ch] / norm.std[ch];
        for (int p = 0; p < P; ++p) {
          const int j = (k * 3 + ch) * P + p;
          point[j] = black + alpha * (x[j] - black);
        }
      }
    }
    StepContext pass{backend, arena, false};
    ref.forward(pass, point.t());
    const Tensor g = ref.backward_to(pass, dlogits.t(), -1);
    for (int j = 0; j < n * 3 * P; ++j)
      attribution[j] += step * g.data<double>()[j];
  }
  for (int k = 0; k < n; ++k)
    for (int ch = 0; ch < 3; ++ch) {
      const double black = -norm.mean[ch] / norm.std[ch];
      for (int p = 0; p < P; ++p) {
        const int j = (k * 3 + ch) * P + p;
        map[k * P + p] += (x[j] - black) * attribution[j];
      }
    }
  for (double& v : map)
    v = std::abs(v);
  return map;
}

}  // namespace scenecam::reference
