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

// The planes [count, h, w] of one image's term: each scaled as pytorch-grad-cam's
// scale_cam_image scales it, (x - min) / (max(x - min) + 1e-7), then resized (cv2.resize) to
// S x S and added into sum [S, S]. Resizing is linear, so the scaled planes are summed at h x w
// and the sum resized once.
void add_scaled_planes(const float* planes, int64_t count, int64_t h, int64_t w, int64_t S,
                       double* sum) {
  std::vector<float> scaled(h * w, 0.0f);
  for (int64_t c = 0; c < count; ++c) {
    const float* plane = planes + c * h * w;
    const auto [lo, hi] = std::minmax_element(plane, plane + h * w);
    for (int64_t i = 0; i < h * w; ++i)
      scaled[i] += cam_min_max_element(plane[i], *lo, *hi);
  }
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x)
      sum[y * S + x] += h == S && w == S ? scaled[y * S + x]
                                         : resize_bilinear_pixel(scaled.data(), h, w, S, S, x, y);
}

}  // namespace

void Explainer::State::full_grad(const ExplainBatch& b, StepContext& ctx, float* out) {
  const int64_t S = config.data.image_size, P = S * S;
  std::vector<double> total(b.count * P, 0.0);
  std::vector<float> dy, planes;
  const std::function<void(const BatchNorm2d&, const Tensor&)> bias_gradient =
      [&](const BatchNorm2d& bn, const Tensor& grad) {
        auto known = folded_biases.find(&bn);
        if (known == folded_biases.end())
          known = folded_biases.emplace(&bn, bn.folded_bias(backend)).first;
        const std::vector<double>& bias = known->second;
        download(grad, &dy);
        const int64_t C = grad.dim(1), hw = grad.dim(2) * grad.dim(3);
        planes.resize(C * hw);
        for (int64_t k = 0; k < b.count; ++k) {
          for (int64_t i = 0; i < C * hw; ++i)
            planes[i] = static_cast<float>(std::abs(bias[i / hw] * dy[k * C * hw + i]));
          add_scaled_planes(planes.data(), C, grad.dim(2), grad.dim(3), S, total.data() + k * P);
        }
      };
  ctx.batch_norm_gradient = &bias_gradient;
  std::vector<float> grads, image;
  download(model.backward_to(ctx, b.dlogits, -1), &grads);
  ctx.batch_norm_gradient = nullptr;
  download(b.images, &image);
  planes.resize(3 * P);
  for (int64_t k = 0; k < b.count; ++k) {
    for (int64_t i = 0; i < 3 * P; ++i)
      planes[i] = std::abs(grads[k * 3 * P + i] * image[k * 3 * P + i]);
    add_scaled_planes(planes.data(), 3, S, S, S, total.data() + k * P);
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
