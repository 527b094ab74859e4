// The methods that read every layer: FullGrad and CNN Fixations (whose rules are fixations.cpp's).
//
// FullGrad (Srinivas and Fleuret, NeurIPS 2019), as pytorch-grad-cam 1.5 computes it: the
// input-gradient term |g x| and, for every batch norm, its bias-gradient term |b dy| (b the
// folded bias, dy the gradient of the batch norm's output), each plane min-max scaled and resized
// to the input; the sum over the input's channels and over every layer's channels, min-max
// scaled once more.
#include <algorithm>
#include <cmath>

#include "explain/explainer_state.hpp"

namespace scenecam {
namespace {

// pytorch-grad-cam's scale_cam_image of one plane [h, w]: (x - min) / (max(x - min) + 1e-7),
// then cv2.resize to S x S, added into sum [S, S].
void add_scaled_plane(std::vector<float>& plane, int64_t h, int64_t w, int64_t S, double* sum) {
  const auto [lo, hi] = std::minmax_element(plane.begin(), plane.end());
  const float low = *lo, high = *hi;
  for (float& v : plane)
    v = cam_min_max_element(v, low, high);
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x)
      sum[y * S + x] += h == S && w == S ? plane[y * S + x]
                                         : resize_bilinear_pixel(plane.data(), h, w, S, S, x, y);
}

}  // namespace

void Explainer::State::full_grad(const ExplainBatch& b, StepContext& ctx, float* out) {
  const int64_t S = config.data.image_size, P = S * S;
  std::vector<double> total(b.count * P, 0.0);
  std::vector<float> dy, plane;
  const std::function<void(const BatchNorm2d&, const Tensor&)> bias_gradient =
      [&](const BatchNorm2d& bn, const Tensor& grad) {
        const std::vector<double> bias = bn.folded_bias(backend);
        download(grad, &dy);
        const int64_t C = grad.dim(1), h = grad.dim(2), w = grad.dim(3);
        plane.resize(h * w);
        for (int64_t k = 0; k < b.count; ++k)
          for (int64_t c = 0; c < C; ++c) {
            const float* g = dy.data() + (k * C + c) * h * w;
            for (int64_t i = 0; i < h * w; ++i)
              plane[i] = static_cast<float>(std::abs(bias[c] * g[i]));
            add_scaled_plane(plane, h, w, S, total.data() + k * P);
          }
      };
  ctx.batch_norm_gradient = &bias_gradient;
  std::vector<float> grads, image;
  download(model.backward_to(ctx, b.dlogits, -1), &grads);
  ctx.batch_norm_gradient = nullptr;
  download(b.images, &image);
  plane.resize(P);
  for (int64_t k = 0; k < b.count; ++k)
    for (int c = 0; c < 3; ++c) {
      for (int64_t p = 0; p < P; ++p)
        plane[p] = std::abs(grads[(k * 3 + c) * P + p] * image[(k * 3 + c) * P + p]);
      add_scaled_plane(plane, S, S, S, total.data() + k * P);
    }
  // The sum's min-max, as FullGrad's aggregate_multi_layers; the common scaling of a full-size
  // map then changes nothing more (min-max again, an identity resize, ReLU of values >= 0).
  scale_host_maps(std::vector<float>(total.begin(), total.end()), b.count, S, S, out);
}

// CNN Fixations: each image's points unravelled for its target on the host, then their density,
// blurred with sigma S * 20 / 224 (the authors' 20 pixels at 224), scaled as every map is.
void Explainer::State::cnn_fixations(const ExplainBatch& b, float* out,
                                     std::vector<std::vector<std::array<int32_t, 2>>>* points) {
  const int64_t S = config.data.image_size, P = S * S;
  if (!fixation_net) fixation_net = std::make_unique<FixationNet>(model, backend);
  std::vector<float> image, raw;
  download(b.images, &image);
  for (int64_t k = 0; k < b.count; ++k) {
    points->push_back(fixation_net->unravel(image.data() + k * 3 * P, S, b.targets[k]));
    const std::vector<float> density = fixation_density(points->back(), S, double(S) * 20 / 224);
    raw.insert(raw.end(), density.begin(), density.end());
  }
  scale_host_maps(raw, b.count, S, S, out);
}

}  // namespace scenecam
