// The explanation measurements and their parts: ROAD's imputation, the sanity check's
// similarities and re-initialisation, the perturbed copies of the many-forward methods, and the
// activations visualisation, on a model that learned synthetic scenes.
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "explain/fixations.hpp"
#include "explain/imputation.hpp"
#include "explain/similarity.hpp"
#include "scenecam/config.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/trainer.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {
namespace fs = std::filesystem;

TEST(Imputation, ReproducesALinearImageWhereEveryNeighbourIsInside) {
  const int S = 24;
  std::vector<float> image(2 * S * S), truth;
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x)
        image[(c * S + y) * S + x] = 0.3f * x - 0.7f * y + 1.5f * c;
  truth = image;
  std::vector<uint8_t> removed(S * S, 0);
  std::mt19937 rng(3);
  for (int y = 1; y < S - 1; ++y)
    for (int x = 1; x < S - 1; ++x)
      removed[y * S + x] = (rng() % 10 < 7) || (x > 6 && x < 14 && y > 5 && y < 15);
  for (int p = 0; p < S * S; ++p)
    if (removed[p]) image[p] = image[S * S + p] = 100.0f;  // poisoned: must be recomputed
  const int iterations = noisy_linear_impute(image.data(), 2, S, removed, 0.0f, rng);
  EXPECT_GT(iterations, 0);
  for (size_t i = 0; i < image.size(); ++i)
    ASSERT_NEAR(image[i], truth[i], 1e-3) << i;

  // With noise the imputed pixels scatter by it; the known ones stay.
  std::vector<float> noisy = truth;
  noisy_linear_impute(noisy.data(), 1, S, removed, 0.5f, rng);
  double sum = 0, squares = 0;
  int count = 0;
  for (int p = 0; p < S * S; ++p) {
    if (!removed[p]) {
      ASSERT_EQ(noisy[p], truth[p]);
      continue;
    }
    const double d = noisy[p] - truth[p];
    sum += d;
    squares += d * d;
    ++count;
  }
  EXPECT_NEAR(sum / count, 0.0, 0.1);
  EXPECT_NEAR(std::sqrt(squares / count), 0.5, 0.1);
}

TEST(Similarity, SpearmanAndSsimOnKnownPairs) {
  std::vector<float> a(400), up(400), down(400), flat(400, 0.5f), shuffled;
  std::mt19937 rng(1);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = std::uniform_real_distribution<float>(0, 1)(rng);
    up[i] = 0.2f + 0.5f * a[i] * a[i];  // monotonic, not linear
    down[i] = 1 - a[i];
  }
  EXPECT_NEAR(spearman(a.data(), up.data(), 400), 1.0, 1e-12);
  EXPECT_NEAR(spearman(a.data(), down.data(), 400), -1.0, 1e-12);
  EXPECT_TRUE(std::isnan(spearman(a.data(), flat.data(), 400)));
  const float tied_a[] = {1, 2, 2, 3}, tied_b[] = {1, 2, 3, 4};
  EXPECT_NEAR(spearman(tied_a, tied_b, 4), 0.9486832980505138, 1e-12);  // scipy.stats.spearmanr
  shuffled = a;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  EXPECT_LT(std::abs(spearman(a.data(), shuffled.data(), 400)), 0.2);
  EXPECT_NEAR(ssim(a.data(), a.data(), 20), 1.0, 1e-12);
  EXPECT_LT(ssim(a.data(), down.data(), 20), -0.9);
  EXPECT_LT(std::abs(ssim(a.data(), shuffled.data(), 20)), 0.2);
}

// explain_perturb's rules on the CPU backend, written out here.
TEST(Perturb, EveryKindAsDocumentedAndNaNForABadRow) {
  auto backend = make_cpu_backend(1);
  const int N = 2, C = 3, H = 5, W = 7, h = 2, w = 3;
  test::F x(Shape{N, C, H, W}), base(Shape{C}), maps(Shape{N, 2, h, w});
  std::mt19937 rng(2);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (size_t i = 0; i < maps.size(); ++i)
    maps[i] = float(i % 5);
  base[0] = -1, base[1] = 0.5f, base[2] = 2;
  test::F plan(Shape{6, kPlanFields}, {1, 0, 0.25f, 0, 0, 0,    // blend
                                       0, 1, 0.5f,  0, 0, 0,    // noise
                                       1, 2, 1,     3, 2, 5,    // patch rows 1..2, columns 2..4
                                       0, 3, 1,     0, 4, 0,    // mask by plane 1, min 0 max 4
                                       1, 4, 2,     9, 0, 0,    // ablate channel 2 to 9
                                       2, 0, 0.5f,  0, 0, 0});  // source 2 does not exist
  test::F out(Shape{6, C, H, W});
  backend->explain_perturb(x.t(), plan.t(), base.t(), maps.t(), 11, out.t());
  auto at = [&](const test::F& t, int n, int c, int y, int xx) {
    return t[((n * C + c) * H + y) * W + xx];
  };
  double noise_sum = 0;
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int xx = 0; xx < W; ++xx) {
        EXPECT_FLOAT_EQ(at(out, 0, c, y, xx), base[c] + 0.25f * (at(x, 1, c, y, xx) - base[c]));
        noise_sum += (at(out, 1, c, y, xx) - at(x, 0, c, y, xx)) / 0.5;
        const bool inside = y >= 1 && y < 3 && xx >= 2 && xx < 5;
        EXPECT_EQ(at(out, 2, c, y, xx), inside ? base[c] : at(x, 1, c, y, xx));
        const double fy = y * (h - 1) / double(H - 1), fx = xx * (w - 1) / double(W - 1);
        const int y0 = int(fy), x0 = int(fx), y1 = std::min(y0 + 1, h - 1),
                  x1 = std::min(x0 + 1, w - 1);
        const float* m = &maps[1 * h * w];  // source 0, plane 1
        const double up =
            (1 - (fy - y0)) * ((1 - (fx - x0)) * m[y0 * w + x0] + (fx - x0) * m[y0 * w + x1]) +
            (fy - y0) * ((1 - (fx - x0)) * m[y1 * w + x0] + (fx - x0) * m[y1 * w + x1]);
        EXPECT_NEAR(at(out, 3, c, y, xx), at(x, 0, c, y, xx) * up / 4.0, 1e-6);
        EXPECT_EQ(at(out, 4, c, y, xx), c == 2 ? 9.0f : at(x, 1, c, y, xx));
        EXPECT_TRUE(std::isnan(at(out, 5, c, y, xx)));
      }
  EXPECT_LT(std::abs(noise_sum / (C * H * W)), 0.35) << "the noise has mean 0";
  EXPECT_NE(at(out, 1, 0, 0, 0), at(x, 0, 0, 0, 0));
  test::F again(Shape{6, C, H, W});
  backend->explain_perturb(x.t(), plan.t(), base.t(), maps.t(), 11, again.t());
  EXPECT_EQ(again[C * H * W + 5], out[C * H * W + 5]) << "the same seed draws the same noise";
  backend->explain_perturb(x.t(), plan.t(), base.t(), maps.t(), 12, again.t());
  EXPECT_NE(again[C * H * W + 5], out[C * H * W + 5]);
}

// Guided Backprop's ReLU: the gradient passes where the unit was active and the gradient is
// positive, in the plain ReLU and in the residual join.
TEST(GuidedRelu, PassesOnlyPositiveGradientsOfActiveUnits) {
  auto backend = make_cpu_backend(1);
  auto arena = make_host_pool("guided", 0, true);
  test::F x(Shape{1, 1, 2, 3}, {-1, 2, 3, -4, 5, 0.5f}),
      skip(Shape{1, 1, 2, 3}, {0, 0, 0, 0, 0, 0});
  const std::vector<float> dy{1, -2, 3, 4, 0, -6}, expected{0, 0, 3, 0, 0, 0};
  for (bool guided : {false, true}) {
    StepContext ctx{*backend, *arena, false};
    ctx.guided_relu = guided;
    ReLU relu;
    ResidualJoin join;
    relu.forward(ctx, x.t());
    join.forward(ctx, x.t(), skip.t());
    test::F g1(Shape{1, 1, 2, 3}, dy), g2(Shape{1, 1, 2, 3}, dy);
    const Tensor a = relu.backward(ctx, g1.t()), b = join.backward(ctx, g2.t());
    for (int i = 0; i < 6; ++i) {
      const float plain = x[i] > 0 ? dy[i] : 0.0f;
      EXPECT_EQ(a.data<float>()[i], guided ? expected[i] : plain) << i;
      EXPECT_EQ(b.data<float>()[i], guided ? expected[i] : plain) << i;
    }
    arena->reset();
  }
}

// The host re-run of a bottleneck network with the stem's max pool (ResNet-50's layout, narrow):
// the model's logits, and fixations inside the image.
TEST(Fixations, BottleneckNetworkWithMaxPool) {
  const RunConfig c = parse_config(
      R"(model: {arch: resnet50, classes: 6, width: 4, blocks: [1, 2, 1, 1]}
data: {source: synthetic, image_size: 40, synthetic_train: 8, synthetic_val: 4}
train: {epochs: 1, batch_size: 4}
runtime: {device: cpu, seed: 3, threads: 1}
output: {dir: /nonexistent/unused})",
      "bottleneck.yaml");
  auto backend = make_cpu_backend(1);
  Classifier classifier(c, *backend);
  FixationNet net(classifier.model(), *backend);
  Split split;
  const Dataset data = load_training_data(c, &split);
  const std::vector<float> logits = classifier.logits(data, split.val, false);
  const Normalization norm;
  std::vector<float> x(3 * 40 * 40);
  for (size_t k = 0; k < split.val.size(); ++k) {
    const ImageU8& img = data.images[split.val[k]];
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < 40 * 40; ++p)
        x[ch * 1600 + p] = (img.rgb[p * 3 + ch] / 255.0f - norm.mean[ch]) / norm.std[ch];
    const std::vector<float> host = net.logits(x.data(), 40);
    for (int j = 0; j < 6; ++j)
      ASSERT_NEAR(host[j], logits[k * 6 + j], 1e-4 + 1e-4 * std::abs(logits[k * 6 + j]));
    for (int target = 0; target < 6; ++target)
      for (const auto& [px, py] : net.unravel(x.data(), 40, target))
        ASSERT_TRUE(px >= 0 && px < 40 && py >= 0 && py < 40);
  }
}

// One model trained on synthetic scenes for the measurements below.
class ExplainMeasures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("scenecam_measures_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    config_ = new RunConfig(parse_config(
        R"(model: {arch: resnet18, classes: 6, width: 8, blocks: [1, 1, 1, 1], stem: small}
data: {source: synthetic, image_size: 32, synthetic_train: 2048, synthetic_val: 200, augment: {crop: none, flip: true}}
train: {epochs: 4, batch_size: 32, optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}, schedule: {name: onecycle}}
runtime: {device: cpu, seed: 2, threads: 2}
output: {dir: )" +
            dir_.string() + "}\n",
        "measures.yaml"));
    split_ = new Split;
    data_ = new Dataset(load_training_data(*config_, split_));
    backend_ = make_cpu_backend(2).release();
    TrainOptions options;
    options.config_yaml = config_to_yaml(*config_);
    train(*config_, *data_, *split_, *backend_, options);
    checkpoint_ = new SafetensorsFile((dir_ / "best.safetensors").string());
  }
  static void TearDownTestSuite() {
    delete checkpoint_;
    delete backend_;
    delete data_;
    delete split_;
    delete config_;
    fs::remove_all(dir_);
  }
  std::vector<int64_t> first(int n) const {
    return std::vector<int64_t>(split_->val.begin(), split_->val.begin() + n);
  }
  static inline fs::path dir_;
  static inline RunConfig* config_ = nullptr;
  static inline Split* split_ = nullptr;
  static inline Dataset* data_ = nullptr;
  static inline Backend* backend_ = nullptr;
  static inline SafetensorsFile* checkpoint_ = nullptr;
};

TEST_F(ExplainMeasures, RoadRanksGradCamAboveRandomMaps) {
  Explainer explainer(*config_, *checkpoint_, *backend_, "layer3");
  const std::vector<int64_t> images = first(60);
  const Explanation e = explainer.explain(*data_, images, CamMethod::gradcam, CamTarget{}, false);
  std::vector<float> random_maps(e.maps.size());
  std::mt19937 rng(4);
  for (float& v : random_maps)
    v = std::uniform_real_distribution<float>(0, 1)(rng);
  const RoadScores cam = explainer.road(*data_, images, e.maps, e.targets);
  const RoadScores rnd = explainer.road(*data_, images, random_maps, e.targets);
  std::printf("ROAD: Grad-CAM MoRF %.4f LeRF %.4f; random MoRF %.4f LeRF %.4f\n", cam.morf,
              cam.lerf, rnd.morf, rnd.lerf);
  EXPECT_LT(cam.morf, rnd.morf);
  EXPECT_GT(cam.lerf, rnd.lerf);
  EXPECT_LT(cam.morf, cam.lerf);
}

TEST_F(ExplainMeasures, RandomisingTheWeightsChangesGradCamsMaps) {
  Explainer explainer(*config_, *checkpoint_, *backend_, "layer3");
  const std::vector<int64_t> images = first(16);
  const int64_t P = 32 * 32;
  const Explanation trained =
      explainer.explain(*data_, images, CamMethod::gradcam, CamTarget{}, false);
  const CamTarget same{CamTarget::listed, 0, &trained.targets};
  auto mean_rho = [&](const Explanation& e) {  // over the images whose maps are not constant
    double rho = 0;
    int defined = 0;
    for (size_t k = 0; k < images.size(); ++k) {
      const double r = spearman(trained.maps.data() + k * P, e.maps.data() + k * P, P);
      if (std::isnan(r)) continue;
      rho += r;
      ++defined;
    }
    EXPECT_GE(defined, 12);
    return rho / defined;
  };
  explainer.reinitialise({"no_such_tensor"}, 9);
  EXPECT_NEAR(mean_rho(explainer.explain(*data_, images, CamMethod::gradcam, same, false)), 1.0,
              1e-9);
  explainer.reinitialise({"fc", "layer4", "layer3", "layer2", "layer1", "conv1", "bn1"}, 9);
  const Explanation random = explainer.explain(*data_, images, CamMethod::gradcam, same, false);
  EXPECT_EQ(random.targets, trained.targets) << "the sanity check explains the same classes";
  const double rho = mean_rho(random);
  std::printf("sanity: Grad-CAM's rank correlation after re-initialising everything %.3f\n", rho);
  EXPECT_LT(rho, 0.5);
}

// The host re-run that CNN Fixations reads gives the model's logits, and the fixations land on
// the object more often than its area would.
TEST_F(ExplainMeasures, FixationsFollowTheModelAndLandOnTheObject) {
  Classifier classifier(*config_, *checkpoint_, *backend_);
  FixationNet net(classifier.model(), *backend_);
  const std::vector<int64_t> images = first(40);
  const std::vector<float> logits = classifier.logits(*data_, images, false);
  const Normalization norm;
  double inside = 0, total = 0, area = 0;
  std::vector<float> x(3 * 32 * 32);
  for (size_t k = 0; k < images.size(); ++k) {
    const ImageU8& img = data_->images[images[k]];
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 32 * 32; ++p)
        x[c * 1024 + p] = (img.rgb[p * 3 + c] / 255.0f - norm.mean[c]) / norm.std[c];
    const std::vector<float> host = net.logits(x.data(), 32);
    for (int j = 0; j < 6; ++j)
      ASSERT_NEAR(host[j], logits[k * 6 + j], 1e-3) << k << " " << j;
    const int32_t pred = int32_t(std::max_element(host.begin(), host.end()) - host.begin());
    const auto points = net.unravel(x.data(), 32, pred);
    ASSERT_FALSE(points.empty());
    const Box& b = data_->boxes[images[k]];
    for (const auto& [px, py] : points) {
      ASSERT_TRUE(px >= 0 && px < 32 && py >= 0 && py < 32);
      inside += px >= b.x0 && px < b.x1 && py >= b.y0 && py < b.y1;
      total += 1;
    }
    area += double(b.x1 - b.x0) * (b.y1 - b.y0) / 1024.0 / images.size();
  }
  std::printf("fixations: %.0f points, %.3f inside the object's box (its area %.3f)\n", total,
              inside / total, area);
  EXPECT_GT(inside / total, area + 0.15);
  // The density map: one fixation spreads as a normalised Gaussian.
  const std::vector<float> d = fixation_density({{10, 12}}, 32, 2.0);
  EXPECT_NEAR(std::accumulate(d.begin(), d.end(), 0.0), 1.0, 1e-4);
  EXPECT_EQ(std::max_element(d.begin(), d.end()) - d.begin(), 12 * 32 + 10);
}

TEST_F(ExplainMeasures, ActivationsAreTheChannelsWithTheHighestMeans) {
  Explainer explainer(*config_, *checkpoint_, *backend_, "");
  const std::vector<int64_t> images = first(5);
  const ActivationMaps a = explainer.activations(*data_, images, "layer2", 4);
  ASSERT_EQ(a.top, 4);
  // The layer's activations, computed here through a classifier of the same checkpoint.
  Classifier classifier(*config_, *checkpoint_, *backend_);
  ResNet& model = classifier.model();
  auto arena = make_host_pool("act", 0, true);
  StepContext ctx{*backend_, *arena, false};
  test::F x(Shape{5, 3, 32, 32});
  const Normalization norm;
  for (int k = 0; k < 5; ++k)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 32 * 32; ++p)
        x[(k * 3 + c) * 1024 + p] =
            (data_->images[images[k]].rgb[p * 3 + c] / 255.0f - norm.mean[c]) / norm.std[c];
  Tensor act;
  model.forward(ctx, x.t(), model.layer_index("layer2"), &act);
  const int64_t C = act.dim(1), hw = act.dim(2) * act.dim(3);
  for (int k = 0; k < 5; ++k) {
    std::vector<double> means(C);
    for (int64_t c = 0; c < C; ++c)
      means[c] = std::accumulate(act.data<float>() + (k * C + c) * hw,
                                 act.data<float>() + (k * C + c + 1) * hw, 0.0) /
                 hw;
    std::vector<double> sorted = means;
    std::sort(sorted.rbegin(), sorted.rend());
    for (int r = 0; r < 4; ++r) {
      EXPECT_NEAR(a.means[k * 4 + r], sorted[r], 1e-4);
      EXPECT_NEAR(means[a.channels[k * 4 + r]], sorted[r], 1e-4);
      const float* m = a.maps.data() + (k * 4 + r) * 1024;
      EXPECT_NEAR(*std::max_element(m, m + 1024), 1.0f, 1e-5);
      EXPECT_GE(*std::min_element(m, m + 1024), 0.0f);
    }
  }
  Shape shape;
  const std::vector<float> filters = explainer.first_conv_filters(&shape);
  EXPECT_EQ(shape, (Shape{8, 3, 3, 3}));
  EXPECT_EQ(int64_t(filters.size()), shape.numel());
}

}  // namespace
}  // namespace scenecam
