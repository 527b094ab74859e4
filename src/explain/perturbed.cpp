// The explanations that run the network over many perturbed copies of each image: SmoothGrad,
// Integrated Gradients, occlusion, ScoreCAM and AblationCAM. Each writes a plan, one row per copy
// (which image, which perturbation), and runs it in chunks of the batch size: the backend makes
// the copies (explain_perturb: noise, masks and patches are drawn on its device) and the forwards,
// and backwards where needed, run on full batches of copies of several images.
#include <algorithm>
#include <cmath>

#include "explain/explainer_state.hpp"
#include "internal/random.hpp"
#include "scenecam/metrics.hpp"

namespace scenecam {
namespace {

struct PlanRow {
  float source, kind, p0 = 0, p1 = 0, p2 = 0, p3 = 0;
};
static_assert(sizeof(PlanRow) == kPlanFields * sizeof(float), "a plan row is six floats");

PlanRow row(int64_t source, Perturb kind, float p0 = 0, float p1 = 0, float p2 = 0, float p3 = 0) {
  return PlanRow{float(source), float(int(kind)), p0, p1, p2, p3};
}

// Runs plans over one input tensor x [N, C, H, W]: the batch's images (from_layer -1) or its
// activation at a layer, whose copies enter the network after that layer.
class CopyRunner {
 public:
  CopyRunner(Explainer::State& s, const Tensor& x, int from_layer, std::vector<float> base,
             const Tensor* maps, uint64_t seed)
      : s_(s), x_(x), from_layer_(from_layer), seed_(seed) {
    base_ = s.held->take(Shape{x.dim(1)}, DType::f32, "perturb fill");
    s.backend.copy(Tensor(base.data(), base_.shape(), DType::f32, Device::cpu()), base_);
    if (maps) {
      maps_ = *maps;
    } else {
      maps_ = s.held->take(Shape{x.dim(0), 1, 1, 1}, DType::f32, "no mask planes");
      s.backend.fill(maps_, 0.0);
    }
  }

  // The logits [M, K] of every copy.
  std::vector<float> logits(const std::vector<PlanRow>& plan) {
    const int64_t K = s_.config.model.classes;
    std::vector<float> z(plan.size() * K);
    run(plan, [&](int64_t first, int64_t n, StepContext&, const Tensor& logits) {
      const float* host = s_.batch.download_logits(logits);
      std::copy_n(host, n * K, z.data() + first * K);
    });
    return z;
  }

  // Per source image, sum_j weight_j d(logit of its target) / d(copy j) over its copies j:
  // [N, C * H * W] on the host (x must be the images).
  std::vector<float> gradients(const std::vector<PlanRow>& plan, const std::vector<float>& weight,
                               const std::vector<int32_t>& targets) {
    const int64_t K = s_.config.model.classes, per = x_.numel() / x_.dim(0);
    std::vector<float> sum(x_.numel(), 0.0f), one_hot, grads;
    run(plan, [&](int64_t first, int64_t n, StepContext& ctx, const Tensor& logits) {
      one_hot.assign(n * K, 0.0f);
      for (int64_t j = 0; j < n; ++j)
        one_hot[j * K + targets[int64_t(plan[first + j].source)]] = 1.0f;
      const Tensor dl(s_.dlogits.raw(), logits.shape(), DType::f32, s_.dlogits.device());
      s_.backend.copy(Tensor(one_hot.data(), logits.shape(), DType::f32, Device::cpu()), dl);
      s_.download(s_.model.backward_to(ctx, dl, -1), &grads);
      for (int64_t j = 0; j < n; ++j) {
        float* to = sum.data() + int64_t(plan[first + j].source) * per;
        const float* g = grads.data() + j * per;
        for (int64_t i = 0; i < per; ++i)
          to[i] += weight[first + j] * g[i];
      }
    });
    return sum;
  }

 private:
  template <typename Sink>
  void run(const std::vector<PlanRow>& plan, const Sink& sink) {
    const int64_t B = s_.config.train.batch_size, M = static_cast<int64_t>(plan.size());
    for (int64_t first = 0; first < M; first += B) {
      const int64_t n = std::min(B, M - first);
      s_.arena->reset();
      const Tensor rows = s_.arena->take(Shape{n, kPlanFields}, DType::f32, "perturb plan");
      s_.backend.copy(Tensor(const_cast<PlanRow*>(plan.data() + first), rows.shape(), DType::f32,
                             Device::cpu()),
                      rows);
      Shape copies_shape = x_.shape();
      copies_shape[0] = n;
      const Tensor copies = s_.arena->take(copies_shape, DType::f32, "perturbed copies");
      s_.backend.explain_perturb(x_, rows, base_, maps_,
                                 derive_seed(seed_, {static_cast<uint64_t>(first)}), copies);
      StepContext ctx{s_.backend, *s_.arena, false};
      const Tensor z = from_layer_ < 0 ? s_.model.forward(ctx, copies)
                                       : s_.model.forward_from(ctx, copies, from_layer_);
      sink(first, n, ctx, z);
    }
  }

  Explainer::State& s_;
  Tensor x_, base_, maps_;
  int from_layer_;
  uint64_t seed_;
};

// The normalised value of a black pixel, per channel: Integrated Gradients' baseline.
std::vector<float> black_pixel() {
  const Normalization norm;
  return {-norm.mean[0] / norm.std[0], -norm.mean[1] / norm.std[1], -norm.mean[2] / norm.std[2]};
}

// Each copy's softmax probability of its source's target, from logits [M, K].
std::vector<double> target_probabilities(std::vector<float> logits, int64_t K,
                                         const std::vector<PlanRow>& plan,
                                         const std::vector<int32_t>& targets) {
  softmax_rows(logits, K);
  std::vector<double> p(plan.size());
  for (size_t j = 0; j < plan.size(); ++j)
    p[j] = logits[j * K + targets[int64_t(plan[j].source)]];
  return p;
}

}  // namespace

// SmoothGrad: saliency of the gradient averaged over noisy copies, the noise's sigma a share of
// each image's value range (after normalisation).
void Explainer::State::smoothgrad(const ExplainBatch& b, float* out) {
  const int64_t S = config.data.image_size, per = 3 * S * S, T = settings.smoothgrad_samples;
  std::vector<float> image;
  download(b.images, &image);
  std::vector<PlanRow> plan;
  for (int64_t k = 0; k < b.count; ++k) {
    const auto [lo, hi] = std::minmax_element(image.data() + k * per, image.data() + (k + 1) * per);
    for (int64_t t = 0; t < T; ++t)
      plan.push_back(row(k, Perturb::noise, settings.smoothgrad_noise * (*hi - *lo)));
  }
  CopyRunner runner(*this, b.images, -1, {0, 0, 0}, nullptr,
                    derive_seed(config.runtime.seed, {0x5au, static_cast<uint64_t>(b.first)}));
  const std::vector<float> grads =
      runner.gradients(plan, std::vector<float>(plan.size(), 1.0f / T), b.targets);
  scale_host_maps(channel_max_abs(grads, b.count, S * S), b.count, S, S, out);
}

// Integrated Gradients with Captum's riemann_trapezoid rule: alphas linspace(0, 1, n), step
// 1 / (n - 1) halved at both ends, attribution (x - black) * sum_i step_i grad(black + alpha_i
// (x - black)); the map is |sum over colour channels| (Captum's visualisation).
void Explainer::State::integrated_gradients(const ExplainBatch& b, float* out) {
  const int64_t S = config.data.image_size, P = S * S, n = settings.ig_steps;
  std::vector<PlanRow> plan;
  std::vector<float> step;
  for (int64_t k = 0; k < b.count; ++k)
    for (int64_t i = 0; i < n; ++i) {
      plan.push_back(row(k, Perturb::blend, float(double(i) / double(n - 1))));
      step.push_back(float((i == 0 || i == n - 1 ? 0.5 : 1.0) / double(n - 1)));
    }
  const std::vector<float> base = black_pixel();
  CopyRunner runner(*this, b.images, -1, base, nullptr, 0);
  const std::vector<float> path = runner.gradients(plan, step, b.targets);
  std::vector<float> image, raw(b.count * P, 0.0f);
  download(b.images, &image);
  for (int64_t k = 0; k < b.count; ++k)
    for (int c = 0; c < 3; ++c)
      for (int64_t p = 0; p < P; ++p) {
        const int64_t i = (k * 3 + c) * P + p;
        raw[k * P + p] += (image[i] - base[c]) * path[i];
      }
  for (float& v : raw)
    v = std::abs(v);
  scale_host_maps(raw, b.count, S, S, out);
}

// Occlusion: a patch of the dataset's mean colour (0 after normalisation), 1/8 of the side,
// slides over the image at half its size (and once more flush with the bottom and right edges
// where the stride does not reach them); each pixel's importance is the mean drop of the
// target's probability over the patches that cover it.
void Explainer::State::occlusion(const ExplainBatch& b, float* out) {
  const int64_t S = config.data.image_size, K = config.model.classes;
  const int64_t patch = std::max<int64_t>(2, S / 8), stride = std::max<int64_t>(1, patch / 2);
  std::vector<int64_t> starts;
  for (int64_t at = 0; at + patch <= S; at += stride)
    starts.push_back(at);
  if (starts.back() + patch < S) starts.push_back(S - patch);
  std::vector<PlanRow> plan;
  for (int64_t k = 0; k < b.count; ++k)
    for (int64_t y0 : starts)
      for (int64_t x0 : starts)
        plan.push_back(
            row(k, Perturb::patch, float(y0), float(y0 + patch), float(x0), float(x0 + patch)));
  CopyRunner runner(*this, b.images, -1, {0, 0, 0}, nullptr, 0);
  const std::vector<double> p = target_probabilities(runner.logits(plan), K, plan, b.targets);
  std::vector<float> drop(b.count * S * S, 0.0f), covered(b.count * S * S, 0.0f);
  for (size_t j = 0; j < plan.size(); ++j) {
    const int64_t k = int64_t(plan[j].source);
    const double clean = b.probabilities[k * K + b.targets[k]];
    for (int64_t y = int64_t(plan[j].p0); y < int64_t(plan[j].p1); ++y)
      for (int64_t x = int64_t(plan[j].p2); x < int64_t(plan[j].p3); ++x) {
        drop[(k * S + y) * S + x] += static_cast<float>(clean - p[j]);
        covered[(k * S + y) * S + x] += 1.0f;
      }
  }
  for (size_t i = 0; i < drop.size(); ++i)
    drop[i] = covered[i] > 0 ? std::max(drop[i] / covered[i], 0.0f) : 0.0f;
  scale_host_maps(drop, b.count, S, S, out);
}

namespace {

// The batch's activation, copied out of the arena so that it outlives the copies' passes.
Tensor hold_activation(Explainer::State& s, const ExplainBatch& b) {
  const Tensor held = s.held->take(b.act.shape(), DType::f32, "held activation");
  s.backend.copy(b.act, held);
  return held;
}

}  // namespace

// ScoreCAM (pytorch-grad-cam 1.5): each channel of the activation, upsampled to the input with
// the corners aligned and min-max scaled, masks the image; the channel's weight is the softmax
// over channels of the target's logit on the masked image. A constant channel masks everything
// (pytorch-grad-cam divides 0 by 0 there).
void Explainer::State::score_cam(const ExplainBatch& b, float* out) {
  const int64_t C = b.act.dim(1), h = b.act.dim(2), w = b.act.dim(3), S = config.data.image_size;
  const int64_t K = config.model.classes;
  std::vector<float> act;
  download(b.act, &act);
  std::vector<PlanRow> plan;
  for (int64_t k = 0; k < b.count; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const float* plane = act.data() + (k * C + c) * h * w;
      float lo = INFINITY, hi = -INFINITY;  // of the upsampled plane, as pytorch-grad-cam's
      for (int64_t y = 0; y < S; ++y)
        for (int64_t x = 0; x < S; ++x) {
          const float v = resize_align_corners_pixel(plane, h, w, S, S, x, y);
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
      plan.push_back(row(k, Perturb::mask, float(c), lo, hi));
    }
  const Tensor held = hold_activation(*this, b);
  CopyRunner runner(*this, b.images, -1, {0, 0, 0}, &held, 0);
  const std::vector<float> z = runner.logits(plan);
  std::vector<float> weights(b.count * C);
  for (int64_t k = 0; k < b.count; ++k)
    for (int64_t c = 0; c < C; ++c)
      weights[k * C + c] = z[(k * C + c) * K + b.targets[k]];
  softmax_rows(weights, C);
  arena->reset();
  weighted_map(held, weights, out);
}

// AblationCAM (pytorch-grad-cam 1.5): channel c's weight is (y - y_c) / y, y the target's logit
// and y_c its logit with channel c of the activation ablated: set to 0 where the activation's
// minimum is 0 (after a ReLU), else to that minimum - 1e7. Where y is 0 the weights are 0 (where
// pytorch-grad-cam divides by 0).
void Explainer::State::ablation_cam(const ExplainBatch& b, float* out) {
  const int64_t C = b.act.dim(1), hw = b.act.dim(2) * b.act.dim(3), K = config.model.classes;
  std::vector<float> act;
  download(b.act, &act);
  std::vector<PlanRow> plan;
  for (int64_t k = 0; k < b.count; ++k) {
    const float lo = *std::min_element(act.data() + k * C * hw, act.data() + (k + 1) * C * hw);
    for (int64_t c = 0; c < C; ++c)
      plan.push_back(row(k, Perturb::ablate, float(c), lo == 0.0f ? 0.0f : lo - 1e7f));
  }
  const Tensor held = hold_activation(*this, b);
  CopyRunner runner(*this, held, layer, std::vector<float>(C, 0.0f), nullptr, 0);
  const std::vector<float> z = runner.logits(plan);
  std::vector<float> weights(b.count * C);
  for (int64_t k = 0; k < b.count; ++k) {
    const float y = b.logits[k * K + b.targets[k]];
    for (int64_t c = 0; c < C; ++c)
      weights[k * C + c] = y != 0.0f ? (y - z[(k * C + c) * K + b.targets[k]]) / y : 0.0f;
  }
  arena->reset();
  weighted_map(held, weights, out);
}

}  // namespace scenecam
