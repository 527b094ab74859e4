// The Explainer: runs a model over images and turns its activations, gradients or outputs into
// maps through the Backend (the per-pixel CAM maths lives below the seam, in cam_math.hpp).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "explain/explainer_state.hpp"
#include "explain/projection.hpp"
#include "internal/progress.hpp"
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
                      CamMethod::eigencam, CamMethod::eigengradcam, CamMethod::scorecam,
                      CamMethod::ablationcam, CamMethod::cam, CamMethod::saliency,
                      CamMethod::smoothgrad, CamMethod::integrated_gradients,
                      CamMethod::occlusion, CamMethod::guided_backprop,
                      CamMethod::guided_gradcam, CamMethod::fullgrad,
                      CamMethod::cnn_fixations}) {
    if (name == cam_method_name(m)) return m;
    known += (known.empty() ? "" : ", ") + std::string(cam_method_name(m));
  }
  fail("unknown method '", name, "' (", known, ", or activations)");
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
    case CamMethod::scorecam:
      return "scorecam";
    case CamMethod::ablationcam:
      return "ablationcam";
    case CamMethod::integrated_gradients:
      return "integrated-gradients";
    case CamMethod::guided_backprop:
      return "guided-backprop";
    case CamMethod::guided_gradcam:
      return "guided-gradcam";
    case CamMethod::fullgrad:
      return "fullgrad";
    case CamMethod::cnn_fixations:
      return "cnn-fixations";
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

Explainer::State::State(std::unique_ptr<Classifier> c)
    : classifier(std::move(c)),
      config(classifier->config()),
      backend(classifier->backend()),
      model(classifier->model()),
      arena(&classifier->arena()),
      batch(classifier->batch()) {}

void Explainer::State::download(const Tensor& t, std::vector<float>* out) {
  out->resize(t.numel());
  backend.copy(t, Tensor(out->data(), t.shape(), DType::f32, Device::cpu()));
}

void Explainer::State::scale_maps(const Tensor& small, float* out) {
  const int64_t S = config.data.image_size;
  const Tensor scratch_maps = arena->take(Shape{small.numel()}, DType::f32, "cam scratch");
  const Tensor maps = arena->take(Shape{small.dim(0), S, S}, DType::f32, "cam maps");
  backend.cam_scale(small, scratch_maps, maps);
  backend.copy(maps, Tensor(out, maps.shape(), DType::f32, Device::cpu()));
}

void Explainer::State::scale_host_maps(const std::vector<float>& raw, int64_t count, int64_t h,
                                       int64_t w, float* out) {
  const Tensor small = arena->take(Shape{count, h, w}, DType::f32, "host cam");
  backend.copy(Tensor(const_cast<float*>(raw.data()), small.shape(), DType::f32, Device::cpu()),
               small);
  scale_maps(small, out);
}

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
  s_->held = backend.make_pool("explain held", 0, /*growable=*/true);
  // Explanations differentiate activations, never weights: frozen convolutions skip their
  // filter gradients in every backward pass.
  s_->model.set_frozen(std::vector<bool>(s_->model.params().entries().size(), true));
  s_->dlogits = s_->scratch->take(Shape{B, K}, DType::f32, "dlogits");
  for (const ParamEntry& e : s_->model.params().entries())
    if (e.name == "fc.weight") s_->download(e.value, &s_->fc_weights);
}

void Explainer::set_settings(const ExplainSettings& settings) {
  SC_CHECK(settings.smoothgrad_samples >= 1 && settings.ig_steps >= 2,
           "explain: SmoothGrad needs at least 1 sample and Integrated Gradients 2 steps, not ",
           settings.smoothgrad_samples, " and ", settings.ig_steps);
  s_->settings = settings;
}

Explainer::~Explainer() = default;

const std::vector<std::string>& Explainer::classes() const {
  return s_->classifier->classes();
}

Classifier& Explainer::classifier() {
  return *s_->classifier;
}

namespace {

// The class a map explains for the image at `position` among those explained, from its logits.
int32_t choose_target(const float* row, int64_t K, const CamTarget& target, int32_t label,
                      int64_t position) {
  const int32_t pred = int32_t(std::max_element(row, row + K) - row);
  switch (target.kind) {
    case CamTarget::predicted:
      return pred;
    case CamTarget::true_class:
      return label;
    case CamTarget::fixed:
      return target.cls;
    case CamTarget::listed:
      return (*target.classes)[position];
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
  b.logits.assign(z, z + count * K);
  b.probabilities = b.logits;
  softmax_rows(b.probabilities, K);
  std::vector<float> one_hot(count * K, 0.0f);  // d(score)/d(logits): the raw logit is the score
  for (int64_t k = 0; k < count; ++k) {
    const float* row = z + k * K;
    const int32_t cls = choose_target(row, K, target, data.labels[indices[first + k]], first + k);
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
  scale_maps(small, out);
}

// Classic CAM: the dense layer's weights for the target class as the channel weights of the
// activation that feeds the global pooling.
void Explainer::State::classic_cam(const ExplainBatch& b, const std::string& layer_name,
                                   float* out) {
  const int64_t K = config.model.classes, C = b.act.dim(1);
  SC_CHECK(size_t(C) == fc_weights.size() / size_t(K), "cam: layer ", layer_name, " has ", C,
           " channels but the dense layer reads ", fc_weights.size() / size_t(K),
           "; use the last stage (--layer layer", model.spec().widths.size(), ")");
  std::vector<float> rows(b.count * C);
  for (int64_t k = 0; k < b.count; ++k)
    std::copy_n(fc_weights.data() + b.targets[k] * C, C, rows.data() + k * C);
  weighted_map(b.act, rows, out);
}

void Explainer::State::weighted_map(const Tensor& act, const std::vector<float>& w, float* out) {
  const Tensor weights = arena->take(Shape{act.dim(0), act.dim(1)}, DType::f32, "cam weights");
  backend.copy(Tensor(const_cast<float*>(w.data()), weights.shape(), DType::f32, Device::cpu()),
               weights);
  const Tensor small = arena->take(Shape{act.dim(0), act.dim(2), act.dim(3)}, DType::f32, "cam");
  backend.cam_weighted_sum_relu(act, weights, small);
  scale_maps(small, out);
}

// EigenCAM: each image's activations projected on their first principal component; EigenGradCAM
// the same of G * A. ReLU, then the common scaling, as pytorch-grad-cam's BaseCAM does.
void Explainer::State::eigen_cam(CamMethod method, const ExplainBatch& b, StepContext& ctx,
                                 float* out) {
  const int64_t C = b.act.dim(1), hw = b.act.dim(2) * b.act.dim(3);
  std::vector<float> planes, grads;
  download(b.act, &planes);
  if (method == CamMethod::eigengradcam) {
    download(model.backward_to(ctx, b.dlogits, layer), &grads);
    for (size_t i = 0; i < planes.size(); ++i)
      planes[i] *= grads[i];
  }
  std::vector<float> raw(b.count * hw);
  for (int64_t k = 0; k < b.count; ++k) {
    const std::vector<float> p = first_component_projection(planes.data() + k * C * hw, C, hw);
    for (int64_t i = 0; i < hw; ++i)
      raw[k * hw + i] = std::max(p[i], 0.0f);
  }
  scale_host_maps(raw, b.count, b.act.dim(2), b.act.dim(3), out);
}

std::vector<float> channel_max_abs(const std::vector<float>& grads, int64_t count, int64_t plane) {
  std::vector<float> raw(count * plane, 0.0f);
  for (int64_t k = 0; k < count; ++k)
    for (int c = 0; c < 3; ++c)
      for (int64_t p = 0; p < plane; ++p)
        raw[k * plane + p] = std::max(raw[k * plane + p], std::abs(grads[(k * 3 + c) * plane + p]));
  return raw;
}

// Saliency: |d score / d input|, the maximum over colour channels.
void Explainer::State::saliency(const ExplainBatch& b, StepContext& ctx, float* out) {
  const int64_t S = config.data.image_size;
  std::vector<float> grads;
  download(model.backward_to(ctx, b.dlogits, -1), &grads);
  scale_host_maps(channel_max_abs(grads, b.count, S * S), b.count, S, S, out);
}

namespace {

void run_method(Explainer::State& s, CamMethod method, const ExplainBatch& b, StepContext& ctx,
                const std::string& layer_name, float* out, uint8_t* rgb,
                std::vector<std::vector<std::array<int32_t, 2>>>* fixations) {
  switch (method) {
    case CamMethod::cam:
      return s.classic_cam(b, layer_name, out);
    case CamMethod::eigencam:
    case CamMethod::eigengradcam:
      return s.eigen_cam(method, b, ctx, out);
    case CamMethod::saliency:
      return s.saliency(b, ctx, out);
    case CamMethod::smoothgrad:
      return s.smoothgrad(b, out);
    case CamMethod::integrated_gradients:
      return s.integrated_gradients(b, out);
    case CamMethod::occlusion:
      return s.occlusion(b, out);
    case CamMethod::scorecam:
      return s.score_cam(b, out);
    case CamMethod::ablationcam:
      return s.ablation_cam(b, out);
    case CamMethod::guided_backprop:
    case CamMethod::guided_gradcam:
      return s.guided(method, b, ctx, out, rgb);
    case CamMethod::fullgrad:
      return s.full_grad(b, ctx, out);
    case CamMethod::cnn_fixations:
      return s.cnn_fixations(b, out, fixations);
    default:
      return s.gradient_cam(method, b, ctx, out);
  }
}

}  // namespace

namespace {

// pytorch-grad-cam's deprocess_image of one image's gradients [3, P] into RGB bytes [P, 3].
void deprocess(const float* g, int64_t P, uint8_t* rgb) {
  double mean = 0, squares = 0;
  for (int64_t i = 0; i < 3 * P; ++i)
    mean += g[i] / double(3 * P);
  for (int64_t i = 0; i < 3 * P; ++i)
    squares += (g[i] - mean) * (g[i] - mean) / double(3 * P);
  const double scale = 0.1 / (std::sqrt(squares) + 1e-5);
  for (int64_t p = 0; p < P; ++p)
    for (int c = 0; c < 3; ++c) {
      const double v = std::clamp((g[c * P + p] - mean) * scale + 0.5, 0.0, 1.0);
      rgb[p * 3 + c] = static_cast<uint8_t>(v * 255);  // truncates, as np.uint8 does
    }
}

}  // namespace

// Guided Backprop: the input gradient through guided ReLUs; Guided Grad-CAM multiplies each
// colour channel by the Grad-CAM map (scaled, at the input's size) first. The map is the maximum
// over channels of |g|; the deprocessed gradients go to rgb [count, S, S, 3].
void Explainer::State::guided(CamMethod method, const ExplainBatch& b, StepContext& ctx,
                              float* out, uint8_t* rgb) {
  const int64_t S = config.data.image_size, P = S * S;
  std::vector<float> cam(b.count * P), grads;
  if (method == CamMethod::guided_gradcam) gradient_cam(CamMethod::gradcam, b, ctx, cam.data());
  ctx.guided_relu = true;
  download(model.backward_to(ctx, b.dlogits, -1), &grads);
  ctx.guided_relu = false;
  if (method == CamMethod::guided_gradcam)
    for (int64_t k = 0; k < b.count; ++k)
      for (int c = 0; c < 3; ++c)
        for (int64_t p = 0; p < P; ++p)
          grads[(k * 3 + c) * P + p] *= cam[k * P + p];
  for (int64_t k = 0; k < b.count; ++k)
    deprocess(grads.data() + k * 3 * P, P, rgb + k * P * 3);
  scale_host_maps(channel_max_abs(grads, b.count, P), b.count, S, S, out);
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
  SC_CHECK(target.kind != CamTarget::listed || int64_t(target.classes->size()) == n,
           "explain: ", target.classes ? target.classes->size() : 0, " targets for ", n, " images");
  Explanation e;
  e.maps.resize(n * S * S);
  if (method == CamMethod::guided_backprop || method == CamMethod::guided_gradcam)
    e.rgb.resize(n * S * S * 3);
  Progress progress(std::string("explain ") + cam_method_name(method), n);
  for (int64_t first = 0; first < n; first += B) {
    if (interrupt_requested()) throw_interrupted(std::string("explain ") + cam_method_name(method));
    StepContext ctx{s.backend, *s.arena, false};
    const ExplainBatch b = s.forward(data, indices, first, std::min(B, n - first), target, ctx, e);
    float* out = e.maps.data() + first * S * S;
    s.held->reset();
    run_method(s, method, b, ctx, layer_name_, out,
               e.rgb.empty() ? nullptr : e.rgb.data() + first * S * S * 3, &e.fixations);
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
