// The CAM family against a straightforward double-precision implementation written here, the
// scaling against cv2.resize's rules, and Grad-CAM's pointing game on a model that learned
// synthetic scenes.
#include <filesystem>
#include <functional>
#include <random>

#include "explain/projection.hpp"
#include "explain_reference.hpp"
#include "scenecam/config.hpp"
#include "scenecam/explain.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/inference.hpp"
#include "scenecam/nn.hpp"
#include "scenecam/safetensors.hpp"
#include "scenecam/trainer.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {
namespace fs = std::filesystem;
using namespace reference;

TEST(Cam, EveryMethodMatchesTheReferenceFormulas) {
  const int n = 2, c = 5, h = 4, w = 3, hw = h * w;
  std::vector<float> A(n * c * hw), G(n * c * hw);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> pos(0.0f, 2.0f), any(-1.0f, 1.0f);
  for (float& a : A)
    a = pos(rng);  // post-ReLU activations are non-negative
  for (float& g : G)
    g = any(rng);
  for (int p = 0; p < hw; ++p)
    G[p] = 0;  // a channel with zero gradients (gradcam++'s where())
  auto cpu = make_cpu_backend(1);
  for (const char* name :
       {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "gradcam-elementwise"}) {
    SCOPED_TRACE(name);
    test::F acts(Shape{n, c, h, w}, A), grads(Shape{n, c, h, w}, G), weights(Shape{n * c}),
        cam(Shape{n, h, w});
    cpu->fill(cam.t(), -1.0);
    cpu->cam_maps(parse_cam_method(name), acts.t(), grads.t(), weights.t(), cam.t());
    const std::vector<double> ref = reference_cam(name, A, G, n, c, hw);
    double biggest = 0;
    for (int i = 0; i < n * hw; ++i) {
      EXPECT_NEAR(cam[i], ref[i], 1e-5 * std::max(1.0, std::abs(ref[i]))) << i;
      biggest = std::max(biggest, ref[i]);
    }
    EXPECT_GT(biggest, 0.0) << "a map of zeros would test nothing";
  }
  test::expect_error([] { parse_cam_method("gradcam+++"); }, {"unknown method", "layercam"});
  test::F acts(Shape{n, c, h, w}, A), weights(Shape{n * c}), cam(Shape{n, h, w});
  test::expect_error(
      [&] { cpu->cam_maps(CamMethod::saliency, acts.t(), acts.t(), weights.t(), cam.t()); },
      {"cam_maps", "not a gradient CAM method"});
}

// EigenCAM's projection: for planes built from a known component plus small noise, the projection
// is that component's pattern (oriented as documented), whichever Gram matrix is the smaller; and
// the eigen-solver's answer is the eigenvector of the largest eigenvalue.
TEST(Cam, EigenProjectionFindsTheFirstPrincipalComponent) {
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0.0, 0.01);
  for (const auto& [C, hw] : {std::pair<int64_t, int64_t>{7, 30}, {40, 9}}) {
    SCOPED_TRACE("C " + std::to_string(C) + ", hw " + std::to_string(hw));
    std::vector<double> pattern(hw), loading(C);
    for (int64_t p = 0; p < hw; ++p)
      pattern[p] = std::sin(0.7 * p) + 0.3 * p / hw;
    for (int64_t c = 0; c < C; ++c)
      loading[c] = 0.5 + std::cos(1.3 * c);
    std::vector<float> planes(C * hw);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < hw; ++p)
        planes[c * hw + p] = float(2 + loading[c] * pattern[p] + noise(rng));
    const std::vector<float> got = first_component_projection(planes.data(), C, hw);
    // The centred pattern times the loadings' norm, with the sign whose correlation with the
    // centred channel sum is positive.
    double mean = 0, norm = 0, loading_sum = 0;
    for (double v : pattern)
      mean += v / double(hw);
    for (double l : loading) {
      norm += l * l;
      loading_sum += l;
    }
    const double sign = loading_sum >= 0 ? 1 : -1;
    double worst = 0, scale = 0;
    for (int64_t p = 0; p < hw; ++p) {
      const double want = sign * std::sqrt(norm) * (pattern[p] - mean);
      worst = std::max(worst, std::abs(got[p] - want));
      scale = std::max(scale, std::abs(want));
    }
    EXPECT_LT(worst, 0.05 * scale);
  }
  // Eigenvalues 5, 2, 2; the top one along (1, 1, 1).
  std::vector<double> m = {3, 1, 1, 1, 3, 1, 1, 1, 3}, v;
  EXPECT_NEAR(top_eigenvector(m, 3, &v), 5.0, 1e-12);
  for (double x : v)
    EXPECT_NEAR(std::abs(x), 1 / std::sqrt(3.0), 1e-12);
}

TEST(Cam, BackendScalingScalesEachMapByItself) {
  auto cpu = make_cpu_backend(1);
  test::F both(Shape{2, 1, 3}, {0, 1, 4, 2, 0, 3}), scratch(Shape{6}), out(Shape{2, 5, 4});
  cpu->cam_scale(both.t(), scratch.t(), out.t());
  for (int k = 0; k < 2; ++k) {
    test::F one(Shape{1, 1, 3}, {both[3 * k], both[3 * k + 1], both[3 * k + 2]}), s1(Shape{3}),
        alone(Shape{1, 5, 4});
    cpu->cam_scale(one.t(), s1.t(), alone.t());
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(out[k * 20 + i], alone[i]) << k << " " << i;
  }
  test::F wrong(Shape{3, 5, 4});
  test::expect_error([&] { cpu->cam_scale(both.t(), scratch.t(), wrong.t()); },
                     {"cam_scale", "different numbers of maps"});
}

TEST(Cam, OverlayIsShowCamOnImage) {
  // heat = table[uint8(255 * map)], blend = 0.5 heat / 255 + 0.5 image / 255, out = uint8(255 *
  // blend / max(blend)), with table entry i = (i, 0, 255 - i).
  auto cpu = make_cpu_backend(1);
  test::Buffer<uint8_t> lut(Shape{256, 3});
  for (int i = 0; i < 256; ++i)
    lut[i * 3] = uint8_t(i), lut[i * 3 + 1] = 0, lut[i * 3 + 2] = uint8_t(255 - i);
  const std::vector<float> m = {0.5f, 1.0f, 0.0f, 0.25f};
  test::F maps(Shape{1, 2, 2}, m), scratch(Shape{1});
  test::Buffer<uint8_t> img(Shape{1, 2, 2, 3}, {100, 200, 50, 0, 0, 0, 255, 255, 255, 10, 20, 30});
  test::Buffer<uint8_t> out(Shape{1, 2, 2, 3});
  cpu->cam_overlay(maps.t(), img.t(), lut.t(), 0.5f, scratch.t(), out.t());
  double blend[12], hi = 0;
  for (int p = 0; p < 4; ++p) {
    const int index = int(255 * double(m[p]));  // 127, 255, 0, 63
    for (int c = 0; c < 3; ++c) {
      blend[p * 3 + c] = 0.5 * lut[index * 3 + c] / 255.0 + 0.5 * img[p * 3 + c] / 255.0;
      hi = std::max(hi, blend[p * 3 + c]);
    }
  }
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(out[i], std::floor(255 * blend[i] / hi), 1.0) << i;
  EXPECT_EQ(out[8], 255);  // the brightest value (white pixel, blue end of the table) maps to 255
}

TEST(Cam, ScalingFollowsMinMaxResizeMinMax) {
  // A 2x2 map scaled to 4x4. Min-max first: [0, 1, 2, 3] / 3 (+1e-7). cv2's bilinear with
  // half-pixel centres samples source x = (X + 0.5) / 2 - 0.5, clamped to [0, 1].
  auto cpu = make_cpu_backend(1);
  test::F cam(Shape{1, 2, 2}, {1, 2, 3, 4}), scratch(Shape{4}), out(Shape{1, 4, 4});
  cpu->cam_scale(cam.t(), scratch.t(), out.t());
  auto src = [](int X) { return std::clamp((X + 0.5) / 2 - 0.5, 0.0, 1.0); };
  const double m[2][2] = {{0, 1 / 3.0}, {2 / 3.0, 1}};
  double ref[16], lo = 1e9, hi = -1e9;
  for (int Y = 0; Y < 4; ++Y)
    for (int X = 0; X < 4; ++X) {
      const double fy = src(Y), fx = src(X);
      const int y0 = int(fy), x0 = int(fx), y1 = std::min(y0 + 1, 1), x1 = std::min(x0 + 1, 1);
      const double ay = fy - y0, ax = fx - x0;
      ref[Y * 4 + X] = (1 - ay) * ((1 - ax) * m[y0][x0] + ax * m[y0][x1]) +
                       ay * ((1 - ax) * m[y1][x0] + ax * m[y1][x1]);
      lo = std::min(lo, ref[Y * 4 + X]);
      hi = std::max(hi, ref[Y * 4 + X]);
    }
  for (int i = 0; i < 16; ++i)
    EXPECT_NEAR(out[i], (ref[i] - lo) / (hi - lo + 1e-7), 1e-5) << i;
  EXPECT_NEAR(out[0], 0.0f, 1e-6);
  EXPECT_NEAR(out[15], 1.0f, 1e-5);
}

TEST(Cam, GradCamPointsAtTheObjectOnSyntheticScenes) {
  const fs::path dir =
      fs::temp_directory_path() / ("scenecam_explain_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const RunConfig c = parse_config(
      R"(model: {arch: resnet18, classes: 6, width: 8, blocks: [1, 1, 1, 1], stem: small}
data: {source: synthetic, image_size: 32, synthetic_train: 2048, synthetic_val: 200, augment: {crop: none, flip: true}}
train: {epochs: 4, batch_size: 32, optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}, schedule: {name: onecycle}}
runtime: {device: cpu, seed: 2, threads: 2}
output: {dir: )" +
          dir.string() + "}\n",
      "explain.yaml");
  Split split;
  const Dataset data = load_training_data(c, &split);
  auto backend = make_cpu_backend(2);
  TrainOptions options;
  options.config_yaml = config_to_yaml(c);
  const TrainResult r = train(c, data, split, *backend, options);
  ASSERT_GT(r.val_accuracy, 0.7);
  const SafetensorsFile ckpt((dir / "best.safetensors").string());
  Explainer explainer(c, ckpt, *backend, "layer3");
  const Explanation e = explainer.explain(data, split.val, CamMethod::gradcam, CamTarget{}, false);
  double baseline = 0;
  const double hits = pointing_game(e, data, split.val, &baseline);
  std::printf("pointing game: Grad-CAM %.3f, random baseline %.3f\n", hits, baseline);
  EXPECT_GT(hits, baseline + 0.2);
  for (float v : e.maps)
    ASSERT_TRUE(v >= 0.0f && v <= 1.0f);

  // Deleting the pixels Grad-CAM ranks first hurts the prediction more than deleting random ones.
  Classifier scorer(c, ckpt, *backend);
  std::vector<float> random_maps(e.maps.size());
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (float& v : random_maps)
    v = unit(rng);
  const Faithfulness f = measure_faithfulness(scorer, data, split.val, e.maps, e.targets);
  const Faithfulness rnd = measure_faithfulness(scorer, data, split.val, random_maps, e.targets);
  std::printf("deletion AUC: Grad-CAM %.4f, random %.4f; insertion AUC %.4f, random %.4f\n",
              f.deletion_auc, rnd.deletion_auc, f.insertion_auc, rnd.insertion_auc);
  EXPECT_LT(f.deletion_auc, rnd.deletion_auc);
  EXPECT_GT(f.insertion_auc, rnd.insertion_auc);
  EXPECT_LT(f.average_drop, rnd.average_drop);

  // At the last stage, which global pooling feeds straight into the dense layer, Grad-CAM's
  // weights are the dense weights / (h*w): classic CAM gives the same scaled maps.
  Explainer last(c, ckpt, *backend, "");
  const Explanation grad_cam =
      last.explain(data, split.val, CamMethod::gradcam, CamTarget{}, false);
  const Explanation cam = last.explain(data, split.val, CamMethod::cam, CamTarget{}, false);
  float worst = 0;
  for (size_t i = 0; i < cam.maps.size(); ++i)
    worst = std::max(worst, std::abs(cam.maps[i] - grad_cam.maps[i]));
  EXPECT_LT(worst, 1e-4f);
  test::expect_error(
      [&] { explainer.explain(data, split.val, CamMethod::cam, CamTarget{}, false); },
      {"cam: layer layer3", "--layer layer4"});

  // The input-space methods point at the object too.
  for (CamMethod m : {CamMethod::saliency, CamMethod::smoothgrad, CamMethod::occlusion,
                      CamMethod::integrated_gradients, CamMethod::scorecam,
                      CamMethod::ablationcam, CamMethod::guided_backprop,
                      CamMethod::guided_gradcam, CamMethod::fullgrad}) {
    const std::vector<int64_t> first50(split.val.begin(), split.val.begin() + 50);
    const Explanation x = last.explain(data, first50, m, CamTarget{}, false);
    double base = 0;
    const double hit = pointing_game(x, data, first50, &base);
    std::printf("pointing game: %s %.3f, random %.3f\n", cam_method_name(m), hit, base);
    EXPECT_GT(hit, base + 0.2) << cam_method_name(m);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace scenecam
