// The Explainer: runs a model over images and turns its activations, gradients or outputs into
// maps through the Backend (the per-pixel CAM maths lives below the seam, in cam_math.hpp).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "explain/projection.hpp"
#include "internal/progress.hpp"
#include "internal/random.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/interrupt.hpp"
#include "scenecam/metrics.hpp"
#include "scenecam/nn.hpp"
#include "train/batch.hpp"

namespace scenecam {

CamMethod parse_cam_method(const std::string& name) {
  std::string known;
  for (CamMethod m : {CamMethod::gradcam, CamMethod::gradcam_pp, CamMethod::xgradcam,
                      CamMethod::hirescam, CamMethod::layercam, CamMethod::gradcam_elementwise,
                      CamMethod::eigencam, CamMethod::eigengradcam, CamMethod::cam,
                      CamMethod::saliency, CamMethod::smoothgrad, CamMethod::occlusion}) {
    if (name == cam_method_name(m)) return m;
    known += (known.empty() ? "" : ", ") + std::string(cam_method_name(m));
  }
  fail("unknown method '", name, "' (", known, ")");
}

const char* cam_method_name(CamMethod m) {
  switch (m) {
    case CamMethod::gradcam:
      return "gradcam";
    case CamMethod::gradcam_pp:
      return "gradcam++";
    case CamMethod::xgradcam:
      return "xgradcam";
    case CamMethod::hirescam:
      return "hirescam";
    case CamMethod::layercam:
      return "layercam";
    case CamMethod::gradcam_elementwise:
      return "gradcam-elementwise";
    case CamMethod::eigencam:
      return "eigencam";
    case CamMethod::eigengradcam:
      return "eigengradcam";
    case CamMethod::cam:
      return "cam";
    case CamMethod::saliency:
      return "saliency";
    case CamMethod::smoothgrad:
      return "smoothgrad";
    case CamMethod::occlusion:
      return "occlusion";
  }
  return "?";
}

CamTarget parse_cam_target(const std::string& text) {
  CamTarget t;
  if (text == "pred") return t;
  if (text == "true") {
    t.kind = CamTarget::true_class;
    return t;
  }
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  SC_CHECK(!text.empty() && *end == '\0' && v >= 0,
           "--target must be pred, true, topK or a class index, not '", text, "'");
  t.kind = CamTarget::fixed;
  t.cls = static_cast<int32_t>(v);
  return t;
}

namespace {

constexpr int kSmoothGradSamples = 16;

void download(Backend& backend, const Tensor& t, std::vector<float>* out) {
  out->resize(t.numel());
  backend.copy(t, Tensor(out->data(), t.shape(), DType::f32, Device::cpu()));
}

// Scales raw maps small [count, h, w] on the backend to [count, S, S] in [0, 1], into host out.
void scale_maps(Backend& backend, Pool& arena, const Tensor& small, int64_t S, float* out) {
  const Tensor scratch = arena.take(Shape{small.numel()}, DType::f32, "cam scratch");
  const Tensor maps = arena.take(Shape{small.dim(0), S, S}, DType::f32, "cam maps");
  backend.cam_scale(small, scratch, maps);
  backend.copy(maps, Tensor(out, maps.shape(), DType::f32, Device::cpu()));
}

// The same for maps made on the host (saliency, smoothgrad, occlusion): raw [count, h, w].
void scale_host_maps(Backend& backend, Pool& arena, std::vector<float>& raw, int64_t count,
                     int64_t h, int64_t w, int64_t S, float* out) {
  const Tensor small = arena.take(Shape{count, h, w}, DType::f32, "host cam");
  backend.copy(Tensor(raw.data(), small.shape(), DType::f32, Device::cpu()), small);
  scale_maps(backend, arena, small, S, out);
}

}  // namespace

// One batch being explained: its normalised images and the target layer's activation on the
// backend, the one-hot gradient of each image's target score (the raw logit), and the clean
// softmax of its logits on the host.
struct ExplainBatch {
  int64_t first = 0, count = 0;
  Tensor images, act, dlogits;
  std::vector<float> probabilities;  // [count, K]
  std::vector<int32_t> targets;
};

// The explainer runs its classifier's network (its weights, batches and activation arena) with
// passes of its own: to a layer and back, on noisy or occluded copies.
struct Explainer::State {
  std::unique_ptr<Classifier> classifier;
  const RunConfig& config;
  Backend& backend;
  ResNet& model;
  Pool* arena;
  BatchInput& batch;
  int layer = 0;
  std::unique_ptr<Pool> scratch;
  Tensor dlogits;
  std::vector<float> fc_weights;  // [K, C], for classic CAM
  explicit State(std::unique_ptr<Classifier> c)
      : classifier(std::move(c)),
        config(classifier->config()),
        backend(classifier->backend()),
        model(classifier->model()),
        arena(&classifier->arena()),
        batch(classifier->batch()) {}

  // The steps of explain(), one per method family (defined below).
  ExplainBatch forward(const Dataset& data, const std::vector<int64_t>& indices, int64_t first,
                       int64_t count, const CamTarget& target, StepContext& ctx, Explanation& e);
  void gradient_cam(CamMethod method, const ExplainBatch& b, StepContext& ctx, float* out);
  void classic_cam(const ExplainBatch& b, const std::string& layer_name, float* out);
  void eigen_cam(CamMethod method, const ExplainBatch& b, StepContext& ctx, float* out);
  void input_gradients(CamMethod method, const ExplainBatch& b, StepContext& ctx, float* out);
  void occlusion(const ExplainBatch& b, StepContext& ctx, float* out);
};

Explainer::Explainer(const RunConfig& config, const SafetensorsFile& checkpoint, Backend& backend,
                     const std::string& layer)
    : Explainer(config, &checkpoint, backend, layer) {}

Explainer::Explainer(const RunConfig& config, const SafetensorsFile* checkpoint, Backend& backend,
                     const std::string& layer)
    : s_(std::make_unique<State>(checkpoint
                                     ? std::make_unique<Classifier>(config, *checkpoint, backend)
                                     : std::make_unique<Classifier>(config, backend))) {
  // The default target layer: the last residual stage's output, as pytorch-grad-cam's examples use.
  layer_name_ = layer.empty() ? "layer" + std::to_string(s_->model.spec().widths.size()) : layer;
  s_->layer = s_->model.layer_index(layer_name_);
  SC_CHECK(layer_name_ != "fc", "--layer fc has no spatial map; pick a convolutional layer");
  const int64_t B = config.train.batch_size, K = config.model.classes;
  s_->scratch = backend.make_pool("explain", pool_capacity({{{B, K}, DType::f32}}), false);
  s_->dlogits = s_->scratch->take(Shape{B, K}, DType::f32, "dlogits");
  for (const ParamEntry& e : s_->model.params().entries())
    if (e.name == "fc.weight") download(backend, e.value, &s_->fc_weights);
}

Explainer::~Explainer() = default;

const std::vector<std::string>& Explainer::classes() const {
  return s_->classifier->classes();
}

Classifier& Explainer::classifier() {
  return *s_->classifier;
}

namespace {

// The class a map explains for one image, from its logits row.
int32_t choose_target(const float* row, int64_t K, const CamTarget& target, int32_t label) {
  const int32_t pred = int32_t(std::max_element(row, row + K) - row);
  switch (target.kind) {
    case CamTarget::predicted:
      return pred;
    case CamTarget::true_class:
      return label;
    case CamTarget::fixed:
      return target.cls;
    case CamTarget::ranked: {
      std::vector<int32_t> order(K);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int32_t a, int32_t b) { return row[a] > row[b]; });
      return order[std::min<int64_t>(target.cls, K - 1)];
    }
  }
  return pred;
}

// Each image's softmax probability of its target class, from logits [count, K].
std::vector<double> target_probabilities(std::vector<float> logits, int64_t K,
                                         const std::vector<int32_t>& targets) {
  softmax_rows(logits, K);
  std::vector<double> p(targets.size());
  for (size_t k = 0; k < targets.size(); ++k)
    p[k] = logits[k * K + targets[k]];
  return p;
}

}  // namespace

// The forward pass of one batch, its targets (recorded in e) and the gradient of their scores.
ExplainBatch Explainer::State::forward(const Dataset& data, const std::vector<int64_t>& indices,
                                       int64_t first, int64_t count, const CamTarget& target,
                                       StepContext& ctx, Explanation& e) {
  const int64_t K = config.model.classes;
  ExplainBatch b;
  b.first = first;
  b.count = count;
  Tensor labels;
  batch.load(data, indices.data() + first, count, false, 0, 0, &b.images, &labels);
  const Tensor logits = model.forward(ctx, b.images, layer, &b.act);
  const float* z = batch.download_logits(logits);
  b.probabilities.assign(z, z + count * K);
  softmax_rows(b.probabilities, K);
  std::vector<float> one_hot(count * K, 0.0f);  // d(score)/d(logits): the raw logit is the score
  for (int64_t k = 0; k < count; ++k) {
    const float* row = z + k * K;
    const int32_t cls = choose_target(row, K, target, data.labels[indices[first + k]]);
    one_hot[k * K + cls] = 1.0f;
    b.targets.push_back(cls);
    e.targets.push_back(cls);
    e.predicted.push_back(int32_t(std::max_element(row, row + K) - row));
    e.probability.push_back(
        *std::max_element(&b.probabilities[k * K], &b.probabilities[(k + 1) * K]));
  }
  b.dlogits = Tensor(dlogits.raw(), logits.shape(), DType::f32, dlogits.device());
  backend.copy(Tensor(one_hot.data(), logits.shape(), DType::f32, Device::cpu()), b.dlogits);
  return b;
}

// Gradient CAM methods: everything after the backward pass stays on the backend's device (the
// method's map, then the scaling); only the finished maps come back.
void Explainer::State::gradient_cam(CamMethod method, const ExplainBatch& b, StepContext& ctx,
                                    float* out) {
  const Tensor grad = model.backward_to(ctx, b.dlogits, layer);
  const int64_t C = b.act.dim(1), h = b.act.dim(2), w = b.act.dim(3);
  const Tensor weights = arena->take(Shape{b.count * C}, DType::f32, "cam weights");
  const Tensor small = arena->take(Shape{b.count, h, w}, DType::f32, "cam");
  backend.cam_maps(method, b.act, grad, weights, small);
  scale_maps(backend, *arena, small, config.data.image_size, out);
}

// Classic CAM: the dense layer's weights for the target class as the channel weights of the
// activation that feeds the global pooling.
void Explainer::State::classic_cam(const ExplainBatch& b, const std::string& layer_name,
                                   float* out) {
  const int64_t K = config.model.classes, C = b.act.dim(1), h = b.act.dim(2), w = b.act.dim(3);
  SC_CHECK(size_t(C) == fc_weights.size() / size_t(K), "cam: layer ", layer_name, " has ", C,
           " channels but the dense layer reads ", fc_weights.size() / size_t(K),
           "; use the last stage (--layer layer", model.spec().widths.size(), ")");
  std::vector<float> rows(b.count * C);
  for (int64_t k = 0; k < b.count; ++k)
    std::copy_n(fc_weights.data() + b.targets[k] * C, C, rows.data() + k * C);
  const Tensor weights = arena->take(Shape{b.count, C}, DType::f32, "cam class weights");
  const Tensor small = arena->take(Shape{b.count, h, w}, DType::f32, "cam");
  backend.copy(Tensor(rows.data(), weights.shape(), DType::f32, Device::cpu()), weights);
  backend.cam_weighted_sum_relu(b.act, weights, small);
  scale_maps(backend, *arena, small, config.data.image_size, out);
}

// EigenCAM: each image's activations projected on their first principal component; EigenGradCAM
// the same of G * A. ReLU, then the common scaling, as pytorch-grad-cam's BaseCAM does.
void Explainer::State::eigen_cam(CamMethod method, const ExplainBatch& b, StepContext& ctx,
                                 float* out) {
  const int64_t C = b.act.dim(1), hw = b.act.dim(2) * b.act.dim(3);
  std::vector<float> planes, grads;
  download(backend, b.act, &planes);
  if (method == CamMethod::eigengradcam) {
    download(backend, model.backward_to(ctx, b.dlogits, layer), &grads);
    for (size_t i = 0; i < planes.size(); ++i)
      planes[i] *= grads[i];
  }
  std::vector<float> raw(b.count * hw);
  for (int64_t k = 0; k < b.count; ++k) {
    const std::vector<float> p = first_component_projection(planes.data() + k * C * hw, C, hw);
    for (int64_t i = 0; i < hw; ++i)
      raw[k * hw + i] = std::max(p[i], 0.0f);
  }
  scale_host_maps(backend, *arena, raw, b.count, b.act.dim(2), b.act.dim(3), config.data.image_size,
                  out);
}

// Saliency: |d score / d input|, the maximum over colour channels. SmoothGrad averages the
// gradient over copies with Gaussian noise of 15% of each image's value range.
void Explainer::State::input_gradients(CamMethod method, const ExplainBatch& b, StepContext& ctx,
                                       float* out) {
  const int64_t S = config.data.image_size, per = 3 * S * S;
  std::vector<float> image, noisy, grads, grad_sum(b.count * per, 0.0f);
  download(backend, b.images, &image);
  const int samples = method == CamMethod::smoothgrad ? kSmoothGradSamples : 1;
  std::mt19937 rng(derive_seed(config.runtime.seed, {0x5au, static_cast<uint64_t>(b.first)}));
  for (int t = 0; t < samples; ++t) {
    if (method == CamMethod::smoothgrad) {
      arena->reset();
      noisy = image;
      for (int64_t k = 0; k < b.count; ++k) {
        float* x = noisy.data() + k * per;
        const auto [lo, hi] = std::minmax_element(x, x + per);
        std::normal_distribution<float> noise(0.0f, 0.15f * (*hi - *lo));
        for (int64_t i = 0; i < per; ++i)
          x[i] += noise(rng);
      }
      const Tensor x = arena->take(b.images.shape(), DType::f32, "noisy images");
      backend.copy(Tensor(noisy.data(), b.images.shape(), DType::f32, Device::cpu()), x);
      model.forward(ctx, x);
    }
    download(backend, model.backward_to(ctx, b.dlogits, -1), &grads);
    for (size_t i = 0; i < grads.size(); ++i)
      grad_sum[i] += grads[i] / samples;
  }
  std::vector<float> raw(b.count * S * S, 0.0f);
  for (int64_t k = 0; k < b.count; ++k)
    for (int c = 0; c < 3; ++c)
      for (int64_t p = 0; p < S * S; ++p)
        raw[k * S * S + p] =
            std::max(raw[k * S * S + p], std::abs(grad_sum[k * per + c * S * S + p]));
  scale_host_maps(backend, *arena, raw, b.count, S, S, S, out);
}

// Occlusion: a patch of the dataset's mean colour (0 after normalisation) slides over the
// image; each pixel's importance is the mean drop of the target's probability over the patches
// that cover it.
void Explainer::State::occlusion(const ExplainBatch& b, StepContext& ctx, float* out) {
  const int64_t S = config.data.image_size, K = config.model.classes;
  std::vector<float> image, occluded;
  download(backend, b.images, &image);
  std::vector<double> clean(b.count);
  for (int64_t k = 0; k < b.count; ++k)
    clean[k] = b.probabilities[k * K + b.targets[k]];
  const int64_t patch = std::max<int64_t>(2, S / 8), stride = std::max<int64_t>(1, patch / 2);
  std::vector<float> drop(b.count * S * S, 0.0f), covered(b.count * S * S, 0.0f);
  for (int64_t y0 = 0; y0 + patch <= S; y0 += stride)
    for (int64_t x0 = 0; x0 + patch <= S; x0 += stride) {
      arena->reset();
      occluded = image;
      for (int64_t k = 0; k < b.count * 3; ++k)
        for (int64_t y = y0; y < y0 + patch; ++y)
          std::fill_n(occluded.data() + (k * S + y) * S + x0, patch, 0.0f);
      const Tensor x = arena->take(b.images.shape(), DType::f32, "occluded images");
      backend.copy(Tensor(occluded.data(), b.images.shape(), DType::f32, Device::cpu()), x);
      const float* z = batch.download_logits(model.forward(ctx, x));
      const std::vector<double> p =
          target_probabilities(std::vector<float>(z, z + b.count * K), K, b.targets);
      for (int64_t k = 0; k < b.count; ++k)
        for (int64_t y = y0; y < y0 + patch; ++y)
          for (int64_t xx = x0; xx < x0 + patch; ++xx) {
            drop[k * S * S + y * S + xx] += static_cast<float>(clean[k] - p[k]);
            covered[k * S * S + y * S + xx] += 1.0f;
          }
    }
  for (size_t i = 0; i < drop.size(); ++i)
    drop[i] = covered[i] > 0 ? std::max(drop[i] / covered[i], 0.0f) : 0.0f;
  scale_host_maps(backend, *arena, drop, b.count, S, S, S, out);
}

Explanation Explainer::explain(const Dataset& data, const std::vector<int64_t>& indices,
                               CamMethod method, const CamTarget& target, bool show_progress) {
  State& s = *s_;
  const int64_t B = s.config.train.batch_size, K = s.config.model.classes, S = data.image_size;
  SC_CHECK(S == s.config.data.image_size, "explain: the images are ", S,
           " pixels but the model was trained on ", s.config.data.image_size);
  SC_CHECK(target.kind != CamTarget::fixed || target.cls < K, "--target ", target.cls,
           " is not a class of this model (0..", K - 1, ")");
  SC_CHECK(target.kind != CamTarget::ranked || target.cls < K, "--target top", target.cls + 1,
           " asks for more classes than the model's ", K);
  const int64_t n = static_cast<int64_t>(indices.size());
  Explanation e;
  e.maps.resize(n * S * S);
  Progress progress(std::string("explain ") + cam_method_name(method), n);
  for (int64_t first = 0; first < n; first += B) {
    if (interrupt_requested()) throw_interrupted(std::string("explain ") + cam_method_name(method));
    StepContext ctx{s.backend, *s.arena, false};
    const ExplainBatch b = s.forward(data, indices, first, std::min(B, n - first), target, ctx, e);
    float* out = e.maps.data() + first * S * S;
    if (is_gradient_cam(method)) {
      s.gradient_cam(method, b, ctx, out);
    } else if (method == CamMethod::cam) {
      s.classic_cam(b, layer_name_, out);
    } else if (method == CamMethod::eigencam || method == CamMethod::eigengradcam) {
      s.eigen_cam(method, b, ctx, out);
    } else if (method == CamMethod::saliency || method == CamMethod::smoothgrad) {
      s.input_gradients(method, b, ctx, out);
    } else {
      s.occlusion(b, ctx, out);
    }
    s.arena->reset();
    if (show_progress) progress.update(first + b.count, "");
  }
  if (show_progress) progress.finish("");
  return e;
}

Faithfulness measure_faithfulness(Classifier& model, const Dataset& data,
                                  const std::vector<int64_t>& indices,
                                  const std::vector<float>& maps,
                                  const std::vector<int32_t>& targets) {
  constexpr int kSteps = 10;
  const int64_t S = data.image_size, P = S * S, n = static_cast<int64_t>(indices.size());
  const int64_t K = static_cast<int64_t>(model.classes().size());
  // Every variant of every image in one dataset: original, masked by the map, and for each step
  // the deletion and insertion images.
  Dataset probe;
  probe.image_size = int(S);
  probe.class_names = data.class_names;
  std::vector<int64_t> order(P);
  for (int64_t k = 0; k < n; ++k) {
    const ImageU8& img = data.images[indices[k]];
    const float* m = maps.data() + k * P;
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return m[a] > m[b]; });
    probe.images.push_back(img);
    ImageU8 masked = img;
    for (int64_t p = 0; p < P; ++p)
      for (int c = 0; c < 3; ++c)
        masked.rgb[p * 3 + c] = uint8_t(std::lround(img.rgb[p * 3 + c] * m[p]));
    probe.images.push_back(std::move(masked));
    for (int s = 0; s <= kSteps; ++s) {
      const int64_t top = P * s / kSteps;
      ImageU8 del = img, ins = img;
      std::fill(ins.rgb.begin(), ins.rgb.end(), 0);
      for (int64_t r = 0; r < top; ++r)
        for (int c = 0; c < 3; ++c) {
          del.rgb[order[r] * 3 + c] = 0;
          ins.rgb[order[r] * 3 + c] = img.rgb[order[r] * 3 + c];
        }
      probe.images.push_back(std::move(del));
      probe.images.push_back(std::move(ins));
    }
  }
  probe.labels.assign(probe.images.size(), 0);
  std::vector<int64_t> all(probe.images.size());
  std::iota(all.begin(), all.end(), 0);
  std::vector<float> probs = model.logits(probe, all, false);
  softmax_rows(probs, K);
  const int64_t per = 2 + 2 * (kSteps + 1);
  Faithfulness f;
  for (int64_t k = 0; k < n; ++k) {
    auto p = [&](int64_t variant) { return double(probs[(k * per + variant) * K + targets[k]]); };
    const double original = p(0), masked = p(1);
    f.average_drop += std::max(0.0, original - masked) / std::max(original, 1e-12) / n;
    f.increase_rate += (masked > original ? 1.0 : 0.0) / n;
    for (int s = 0; s < kSteps; ++s) {  // trapezoids over fractions 0, 0.1, ..., 1
      f.deletion_auc += 0.5 * (p(2 + 2 * s) + p(2 + 2 * (s + 1))) / kSteps / n;
      f.insertion_auc += 0.5 * (p(3 + 2 * s) + p(3 + 2 * (s + 1))) / kSteps / n;
    }
  }
  return f;
}

double pointing_game(const Explanation& e, const Dataset& data, const std::vector<int64_t>& indices,
                     double* baseline) {
  SC_CHECK(!data.boxes.empty(), "the pointing game needs object boxes (synthetic scenes)");
  const int64_t S = data.image_size, n = static_cast<int64_t>(indices.size());
  int64_t hits = 0;
  double area = 0;
  for (int64_t k = 0; k < n; ++k) {
    const float* m = e.maps.data() + k * S * S;
    const int64_t at = std::max_element(m, m + S * S) - m;
    const int64_t x = at % S, y = at / S;
    const Box& b = data.boxes[indices[k]];
    hits += x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1;
    area += double(b.x1 - b.x0) * (b.y1 - b.y0) / double(S * S);
  }
  *baseline = n ? area / n : 0;
  return n ? double(hits) / n : 0;
}

}  // namespace scenecam
