// The whole explanation pipeline against an independent computation: a tiny network with fixed
// weights (a checkpoint), explained by the Explainer in float32, and recomputed here in float64
// with the model materialised in double precision, the gradients taken by its own backward, and
// the formulas and scaling of explain_reference.hpp.
#include <filesystem>
#include <functional>

#include "explain_reference.hpp"
#include "scenecam/config.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/safetensors.hpp"
#include "scenecam/trainer.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {
namespace fs = std::filesystem;
using namespace reference;

constexpr int S = 20;

// The trained checkpoint, the float64 model with its weights, the validation images normalised,
// and the reference pass: logits, the targets (predictions), and the activation and gradient of
// layer2.
class ExplainReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { state_ = new State; }
  static void TearDownTestSuite() {
    delete state_;
    state_ = nullptr;
  }

  struct State {
    fs::path dir =
        fs::temp_directory_path() / ("scenecam_explain_ref_" + std::to_string(::getpid()));
    RunConfig config;
    Split split;
    Dataset data;
    std::unique_ptr<Backend> backend = make_cpu_backend(2);
    std::unique_ptr<SafetensorsFile> checkpoint;
    std::unique_ptr<ResNet> ref;
    std::unique_ptr<Pool> arena = make_host_pool("ref", 0, true);
    int n = 0, layer = 0, C = 0, h = 0, w = 0;
    std::unique_ptr<test::D> x, dlogits;
    Tensor logits;
    std::vector<int> targets;
    std::vector<float> A, G;
    State();
    ~State() { fs::remove_all(dir); }
  };
  static inline State* state_ = nullptr;

  // Compares the Explainer's maps of `name` with raw reference maps [n, rh, rw], scaled here.
  static void expect_maps(Explainer& explainer, const char* name, const std::vector<double>& raw,
                          int rh, int rw, int* informative);
};

ExplainReference::State::State() {
  fs::remove_all(dir);
  config = parse_config(
      R"(model: {arch: resnet18, classes: 6, width: 4, blocks: [1, 1, 1, 1], stem: small}
data: {source: synthetic, image_size: 20, synthetic_train: 64, synthetic_val: 6}
train: {epochs: 1, batch_size: 32}
runtime: {device: cpu, seed: 4, threads: 2}
output: {dir: )" +
          dir.string() + "}\n",
      "ref.yaml");
  data = load_training_data(config, &split);
  TrainOptions options;
  options.config_yaml = config_to_yaml(config);
  train(config, data, split, *backend, options);
  checkpoint = std::make_unique<SafetensorsFile>((dir / "last.safetensors").string());
  ref = std::make_unique<ResNet>(resnet_spec(config.model));
  ref->materialize(*backend, 1, DType::f64);
  for (const ParamEntry& e : ref->params().entries()) {
    std::vector<float> v(e.shape.numel());
    checkpoint->read_into(e.name, Tensor(v.data(), e.shape, DType::f32, Device::cpu()), *backend);
    std::copy(v.begin(), v.end(), e.value.data<double>());
  }
  n = static_cast<int>(split.val.size());
  x = std::make_unique<test::D>(Shape{n, 3, S, S});
  const Normalization norm;
  for (int k = 0; k < n; ++k)
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < S * S; ++p)
        (*x)[(k * 3 + ch) * S * S + p] =
            (data.images[split.val[k]].rgb[p * 3 + ch] / 255.0 - norm.mean[ch]) / norm.std[ch];
  StepContext ctx{*backend, *arena, false};
  layer = ref->layer_index("layer2");
  Tensor act;
  logits = ref->forward(ctx, x->t(), layer, &act);
  dlogits = std::make_unique<test::D>(Shape{n, 6});
  targets.resize(n);
  for (int k = 0; k < n; ++k) {
    const double* row = logits.data<double>() + k * 6;
    targets[k] = int(std::max_element(row, row + 6) - row);
    (*dlogits)[k * 6 + targets[k]] = 1.0;
  }
  const Tensor grad = ref->backward_to(ctx, dlogits->t(), layer);
  C = int(act.dim(1)), h = int(act.dim(2)), w = int(act.dim(3));
  A.assign(act.data<double>(), act.data<double>() + act.numel());
  G.assign(grad.data<double>(), grad.data<double>() + grad.numel());
}

void ExplainReference::expect_maps(Explainer& explainer, const char* name,
                                   const std::vector<double>& raw, int rh, int rw,
                                   int* informative) {
  SCOPED_TRACE(name);
  const State& s = *state_;
  const Explanation e =
      explainer.explain(s.data, s.split.val, parse_cam_method(name), CamTarget{}, false);
  for (int k = 0; k < s.n; ++k) {
    EXPECT_EQ(e.targets[k], s.targets[k]);
    std::vector<double> m(raw.begin() + k * rh * rw, raw.begin() + (k + 1) * rh * rw);
    reference_min_max(m);
    std::vector<double> big = reference_resize(m, rh, rw, S, S);
    for (double& v : big)
      v = std::max(v, 0.0);
    reference_min_max(big);
    for (int p = 0; p < S * S; ++p)
      ASSERT_NEAR(e.maps[k * S * S + p], big[p], 2e-3) << k << " " << p;
    *informative += *std::max_element(big.begin(), big.end()) > 0.99;
  }
}

TEST_F(ExplainReference, GradientCamMethods) {
  State& s = *state_;
  Explainer explainer(s.config, *s.checkpoint, *s.backend, "layer2");
  int informative = 0;
  for (const char* name : {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam",
                           "gradcam-elementwise", "eigencam", "eigengradcam"})
    expect_maps(explainer, name, reference_cam(name, s.A, s.G, s.n, s.C, s.h * s.w), s.h, s.w,
                &informative);
  EXPECT_GE(informative, 5 * s.n / 2)
      << "most maps must be non-trivial for the comparison to mean something";
}

// The many-forward methods: their copies run through the float64 model in one batch.
TEST_F(ExplainReference, ManyForwardMethods) {
  State& s = *state_;
  Explainer explainer(s.config, *s.checkpoint, *s.backend, "layer2");
  ExplainSettings settings;
  settings.ig_steps = 9;
  explainer.set_settings(settings);
  auto ref_logits = [&](test::D& input, int from) {
    StepContext pass{*s.backend, *s.arena, false};
    const Tensor z =
        from < 0 ? s.ref->forward(pass, input.t()) : s.ref->forward_from(pass, input.t(), from);
    return std::vector<double>(z.data<double>(), z.data<double>() + z.numel());
  };
  int informative = 0;
  expect_maps(explainer, "scorecam",
              reference_score_cam(ref_logits, *s.x, s.A, s.targets, s.n, s.C, s.h, s.w, S), s.h,
              s.w, &informative);
  expect_maps(
      explainer, "ablationcam",
      reference_ablation_cam(ref_logits, s.A, s.logits, s.targets, s.layer, s.n, s.C, s.h, s.w),
      s.h, s.w, &informative);
  expect_maps(explainer, "integrated-gradients",
              reference_integrated_gradients(*s.ref, *s.backend, *s.arena, *s.x, s.targets,
                                             settings.ig_steps, s.n, S),
              S, S, &informative);
  EXPECT_EQ(informative, 3 * s.n);
}

// Guided Backprop: the float64 model's input gradient through guided ReLUs, max |g| over the
// colour channels.
std::vector<double> reference_guided_backprop(ResNet& ref, Backend& backend, Pool& arena,
                                              test::D& x, test::D& dlogits, int n) {
  std::vector<double> guided(n * S * S, 0.0);
  StepContext pass{backend, arena, false};
  pass.guided_relu = true;
  ref.forward(pass, x.t());
  const Tensor g = ref.backward_to(pass, dlogits.t(), -1);
  for (int k = 0; k < n; ++k)
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < S * S; ++p)
        guided[k * S * S + p] =
            std::max(guided[k * S * S + p], std::abs(g.data<double>()[(k * 3 + ch) * S * S + p]));
  return guided;
}

// FullGrad: |g x| per colour channel and |b dy| per channel of every batch norm of the float64
// model, each plane min-max scaled and resized (cv2's rule) to the input, summed.
std::vector<double> reference_full_grad(ResNet& ref, Backend& backend, Pool& arena, test::D& x,
                                        test::D& dlogits, int n) {
  std::vector<double> total(n * S * S, 0.0);
  auto add_planes = [&](const std::vector<double>& planes, int64_t count, int64_t ph, int64_t pw,
                        int k) {
    for (int64_t c = 0; c < count; ++c) {
      std::vector<double> plane(planes.begin() + c * ph * pw, planes.begin() + (c + 1) * ph * pw);
      reference_min_max(plane);
      const std::vector<double> big = reference_resize(plane, int(ph), int(pw), S, S);
      for (int p = 0; p < S * S; ++p)
        total[k * S * S + p] += big[p];
    }
  };
  const std::function<void(const BatchNorm2d&, const Tensor&)> hook = [&](const BatchNorm2d& bn,
                                                                          const Tensor& dy) {
    const std::vector<double> bias = bn.folded_bias(backend);
    const int64_t C = dy.dim(1), ph = dy.dim(2), pw = dy.dim(3);
    std::vector<double> planes(C * ph * pw);
    for (int k = 0; k < n; ++k) {
      for (int64_t i = 0; i < C * ph * pw; ++i)
        planes[i] = std::abs(bias[i / (ph * pw)] * dy.data<double>()[k * C * ph * pw + i]);
      add_planes(planes, C, ph, pw, k);
    }
  };
  StepContext pass{backend, arena, false};
  pass.batch_norm_gradient = &hook;
  ref.forward(pass, x.t());
  const Tensor g = ref.backward_to(pass, dlogits.t(), -1);
  std::vector<double> planes(3 * S * S);
  for (int k = 0; k < n; ++k) {
    for (int i = 0; i < 3 * S * S; ++i)
      planes[i] = std::abs(g.data<double>()[k * 3 * S * S + i] * x[k * 3 * S * S + i]);
    add_planes(planes, 3, S, S, k);
  }
  return total;
}

TEST_F(ExplainReference, GuidedBackpropAndFullGrad) {
  State& s = *state_;
  Explainer explainer(s.config, *s.checkpoint, *s.backend, "layer2");
  int informative = 0;
  expect_maps(explainer, "guided-backprop",
              reference_guided_backprop(*s.ref, *s.backend, *s.arena, *s.x, *s.dlogits, s.n), S, S,
              &informative);
  expect_maps(explainer, "fullgrad",
              reference_full_grad(*s.ref, *s.backend, *s.arena, *s.x, *s.dlogits, s.n), S, S,
              &informative);
  EXPECT_EQ(informative, 2 * s.n);
}

// Ranked targets: rank 0 is the prediction; rank 1 the runner-up, never the prediction.
TEST_F(ExplainReference, RankedTargets) {
  State& s = *state_;
  Explainer explainer(s.config, *s.checkpoint, *s.backend, "layer2");
  const Explanation top1 = explainer.explain(s.data, s.split.val, CamMethod::gradcam,
                                             CamTarget{CamTarget::ranked, 0}, false);
  const Explanation top2 = explainer.explain(s.data, s.split.val, CamMethod::gradcam,
                                             CamTarget{CamTarget::ranked, 1}, false);
  EXPECT_EQ(top1.targets, top1.predicted);
  for (int k = 0; k < s.n; ++k)
    EXPECT_NE(top2.targets[k], top2.predicted[k]);
  test::expect_error(
      [&] {
        explainer.explain(s.data, s.split.val, CamMethod::gradcam, CamTarget{CamTarget::ranked, 6},
                          false);
      },
      {"--target top7", "more classes than the model's 6"});
}

}  // namespace
}  // namespace scenecam
