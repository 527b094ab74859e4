// The residual network: torchvision's names and sizes, gradients of the whole model against
// finite differences, and learning on a batch it can memorise.
#include <cmath>

#include "model_step.hpp"
#include "scenecam/config.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

TEST(ResNet, Resnet18HasTorchvisionNamesAndSize) {
  ResNetSpec spec;  // the defaults are ResNet-18
  spec.classes = 1000;
  ResNet model(spec);
  // torchvision.models.resnet18(): 11,689,512 parameters.
  EXPECT_EQ(model.params().trainable_count(), 11689512);
  std::vector<std::string> names;
  for (const ParamEntry& e : model.params().entries())
    names.push_back(e.name);
  for (const char* expected :
       {"conv1.weight", "bn1.weight", "bn1.running_var", "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "layer4.1.bn2.running_mean",
        "fc.weight", "fc.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  EXPECT_EQ(std::count_if(names.begin(), names.end(),
                          [](const std::string& n) { return n.find("downsample") != n.npos; }),
            3 * 5);  // three stages change shape: conv weight + bn weight, bias, mean, var
}

int64_t count_for(const char* arch, int64_t classes) {
  ModelConfig m;
  m.arch = arch;
  m.classes = classes;
  return ResNet(resnet_spec(m)).params().trainable_count();
}

TEST(ResNet, Resnet34And50MatchTorchvisionSizes) {
  EXPECT_EQ(count_for("resnet18", 1000), 11689512);
  EXPECT_EQ(count_for("resnet34", 1000), 21797672);
  EXPECT_EQ(count_for("resnet50", 1000), 25557032);
  ModelConfig m;
  m.arch = "resnet50";
  m.classes = 10;
  ResNet model(resnet_spec(m));
  std::vector<std::string> names;
  for (const ParamEntry& e : model.params().entries())
    names.push_back(e.name);
  for (const char* expected : {"layer1.0.conv3.weight", "layer1.0.bn3.running_var",
                               "layer1.0.downsample.0.weight", "layer4.2.conv2.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

TEST(ResNet, ConfigOverridesWidthDepthAndStem) {
  ModelConfig m;
  m.arch = "resnet18";
  m.classes = 6;
  m.width = 16;
  m.blocks = {1, 1, 2, 1};
  m.stem = "small";
  const ResNetSpec s = resnet_spec(m);
  EXPECT_EQ(s.widths, (std::vector<int64_t>{16, 32, 64, 128}));
  EXPECT_EQ(s.blocks, (std::vector<int>{1, 1, 2, 1}));
  EXPECT_EQ(s.stem_kernel, 3);
  EXPECT_FALSE(s.stem_pool);
}

// The reference notebook's network at its 150x150 input: the stem (7x7/2, then a 3x3/2 pool
// without padding) and four pooling stages take 150 -> 75 -> 37 -> 18 -> 9 -> 4 -> 2.
TEST(ResNet, SeedResnetRunsAt150) {
  ModelConfig m;
  m.arch = "seed_resnet";
  m.classes = 6;
  m.width = 4;
  test::ModelRig rig(resnet_spec(m), 1);
  test::F images(Shape{2, 3, 150, 150});
  test::fill_random(images, 2);
  StepContext ctx{*rig.backend, *rig.arena, false};
  const Tensor logits = rig.model.forward(ctx, images.t());
  EXPECT_EQ(logits.shape(), (Shape{2, 6}));
  for (int i = 0; i < 12; ++i)
    EXPECT_TRUE(std::isfinite(logits.data<float>()[i]));
  rig.arena->reset();
}

TEST(ResNet, ParametersLiveInOneAlignedArenaDecayedFirst) {
  test::ModelRig rig(test::tiny_spec(), 7);
  const Parameters& p = rig.model.params();
  EXPECT_EQ(p.value_pool().stats().allocations, 1u);
  const char* base = static_cast<const char*>(p.values().raw());
  const char* decayed_end = base + p.decayed_values().nbytes();
  for (const ParamEntry& e : p.entries()) {
    if (e.kind == ParamKind::buffer) continue;
    const char* at = static_cast<const char*>(e.value.raw());
    EXPECT_EQ((at - base) % kPoolAlignment, 0) << e.name;
    EXPECT_EQ(at < decayed_end, e.kind == ParamKind::decayed) << e.name;
    EXPECT_EQ(static_cast<const char*>(e.grad.raw()) - static_cast<const char*>(p.grads().raw()),
              at - base)
        << e.name;
  }
}

TEST(ResNet, WeightInitialisationFollowsTorchvision) {
  test::ModelRig rig(test::tiny_spec(), 7);
  for (const ParamEntry& e : rig.model.params().entries()) {
    const float* v = e.value.data<float>();
    const int64_t n = e.shape.numel();
    if (e.name == "bn1.weight" || e.name.find("running_var") != std::string::npos) {
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(v[i], 1.0f) << e.name;
    } else if (e.name == "layer2.0.conv2.weight") {
      double sq = 0;  // kaiming normal, fan_out = 12 * 3 * 3
      for (int64_t i = 0; i < n; ++i)
        sq += double(v[i]) * v[i];
      EXPECT_NEAR(std::sqrt(sq / n), std::sqrt(2.0 / 108), 0.01) << e.name;
    } else if (e.name == "fc.weight") {
      for (int64_t i = 0; i < n; ++i)
        EXPECT_LE(std::abs(v[i]), 1 / std::sqrt(12.0)) << e.name;
    }
  }
}

// Gradients of the whole model, in float64, against central differences on a sample of weights:
// three elements of every trainable tensor. Batch-norm statistics, the residual joins, pooling
// and the loss are all in the loop, so this checks how the layers are wired, not just each op.
void check_model_gradients(const ResNetSpec& spec, const Shape& input) {
  test::ModelRig rig(spec, 3, DType::f64);
  test::D images(input);
  test::fill_random(images, 5);
  test::Buffer<int32_t> labels(Shape{input[0]});
  for (int64_t n = 0; n < input[0]; ++n)
    labels[n] = static_cast<int32_t>(n % spec.classes);
  rig.step(images.t(), labels.t(), SgdParams{}, /*update=*/false);
  const Tensor grads = rig.model.params().grads();
  std::vector<double> analytic(grads.data<double>(), grads.data<double>() + grads.numel());

  double* w = rig.model.params().values().data<double>();
  int checked = 0, tensors = 0;
  for (const ParamEntry& e : rig.model.params().entries()) {
    if (e.kind == ParamKind::buffer) continue;
    ++tensors;
    const int64_t offset = e.value.data<double>() - w;
    for (int64_t i : {int64_t(0), e.shape.numel() / 2, e.shape.numel() - 1}) {
      const double saved = w[offset + i], eps = 1e-6;
      w[offset + i] = saved + eps;
      const double plus = rig.step(images.t(), labels.t(), SgdParams{}, false);
      w[offset + i] = saved - eps;
      const double minus = rig.step(images.t(), labels.t(), SgdParams{}, false);
      w[offset + i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic[offset + i], numeric, 1e-6 + 1e-5 * std::abs(numeric))
          << e.name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * tensors);
  EXPECT_GT(tensors, 10);
}

TEST(ResNet, ModelGradientsMatchFiniteDifferences) {
  check_model_gradients(test::tiny_spec(), Shape{3, 3, 11, 9});
}

TEST(ResNet, BottleneckModelGradientsMatchFiniteDifferences) {
  ResNetSpec s = test::tiny_spec();
  s.block = BlockKind::bottleneck;
  s.widths = {4, 6};
  check_model_gradients(s, Shape{3, 3, 11, 9});
}

TEST(ResNet, PoolingBlockModelGradientsMatchFiniteDifferences) {
  ResNetSpec s = test::tiny_spec();
  s.block = BlockKind::pooling;
  s.blocks = {2, 1};
  s.stem_pool_pad = 0;
  check_model_gradients(s, Shape{3, 3, 16, 14});
}

// In inference mode (as explanations use it), the gradient of the logits with respect to the
// input and to an inner activation, against central differences, in float64.
TEST(ResNet, InferenceModeGradientsToInputAndInnerLayer) {
  test::ModelRig rig(test::tiny_spec(), 3, DType::f64);
  // Give the running statistics non-trivial values with a few training-mode forwards.
  test::D warm(Shape{4, 3, 11, 9});
  test::fill_random(warm, 8);
  for (int i = 0; i < 3; ++i) {
    StepContext train{*rig.backend, *rig.arena, true};
    rig.model.forward(train, warm.t());
    rig.arena->reset();
  }
  test::D x(Shape{2, 3, 11, 9}), r(Shape{2, 4});
  test::fill_random(x, 9);
  test::fill_random(r, 10);
  const int layer = rig.model.layer_index("layer1");
  StepContext ctx{*rig.backend, *rig.arena, false};
  auto loss = [&] {
    Tensor act;
    const Tensor logits = rig.model.forward(ctx, x.t(), layer, &act);
    double s = 0;
    for (int i = 0; i < 8; ++i)
      s += r[i] * logits.data<double>()[i];
    rig.arena->reset();
    return s;
  };
  // Analytic gradients: to the input, and to the kept activation.
  Tensor act;
  rig.model.forward(ctx, x.t(), layer, &act);
  test::D dlogits(Shape{2, 4});
  std::copy(r.values().begin(), r.values().end(), dlogits.values().begin());
  const Tensor g_input = rig.model.backward_to(ctx, dlogits.t(), -1);
  test::D dx(x.shape());
  std::copy(g_input.data<double>(), g_input.data<double>() + dx.size(), dx.values().begin());
  rig.arena->reset();
  rig.model.forward(ctx, x.t(), layer, &act);
  std::copy(r.values().begin(), r.values().end(), dlogits.values().begin());
  const Tensor g_act = rig.model.backward_to(ctx, dlogits.t(), layer);
  const Shape act_shape = act.shape();
  std::vector<double> dact(g_act.data<double>(), g_act.data<double>() + g_act.numel());
  rig.arena->reset();
  test::expect_gradient("d logits / d input", x, dx, loss, 1e-6, 1e-6);

  // The activation's gradient: perturb a copy of the activation and run only the layers after it.
  test::D a(act_shape), da(act_shape);
  rig.model.forward(ctx, x.t(), layer, &act);
  std::copy(act.data<double>(), act.data<double>() + a.size(), a.values().begin());
  std::copy(dact.begin(), dact.end(), da.values().begin());
  rig.arena->reset();
  test::expect_gradient(
      "d logits / d layer1", a, da,
      [&] {
        const Tensor logits = rig.model.forward_from(ctx, a.t(), layer);
        double s = 0;
        for (int i = 0; i < 8; ++i)
          s += r[i] * logits.data<double>()[i];
        rig.arena->reset();
        return s;
      },
      1e-6, 1e-6);
}

TEST(ResNet, LayerNamesForExplanations) {
  ResNet model(test::tiny_spec());
  EXPECT_EQ(model.layer_index("conv1"), 0);
  EXPECT_EQ(model.layer_index("layer2"),
            model.layer_index("layer2.0"));  // a stage is its last block
  EXPECT_GT(model.layer_index("layer2"), model.layer_index("layer1"));
  test::expect_error([&] { model.layer_index("layer9"); },
                     {"unknown layer 'layer9'", "layer1.0", "fc"});
}

TEST(ResNet, TrainingMemorisesABatch) {
  test::ModelRig rig(test::tiny_spec(), 11);
  test::F images(Shape{8, 3, 12, 12});
  test::fill_random(images, 13);
  test::Buffer<int32_t> labels(Shape{8}, {0, 1, 2, 3, 0, 1, 2, 3});
  SgdParams sgd;
  sgd.lr = 0.05f;
  sgd.momentum = 0.9f;
  const float first = rig.step(images.t(), labels.t(), sgd);
  float last = first;
  for (int i = 0; i < 60; ++i)
    last = rig.step(images.t(), labels.t(), sgd);
  EXPECT_TRUE(std::isfinite(last));
  EXPECT_LT(last, 0.2f * first) << "first " << first << " last " << last;
}

TEST(ResNet, InferenceUsesRunningStatistics) {
  test::ModelRig rig(test::tiny_spec(), 17);
  test::F a(Shape{2, 3, 10, 10}), b(Shape{1, 3, 10, 10});
  test::fill_random(a, 19);
  std::copy(a.values().begin(), a.values().begin() + b.size(), b.values().begin());
  // In eval mode an image's logits do not depend on the rest of the batch.
  StepContext ctx{*rig.backend, *rig.arena, false};
  Tensor la = rig.model.forward(ctx, a.t());
  std::vector<float> first(la.data<float>(), la.data<float>() + 4);
  rig.arena->reset();
  Tensor lb = rig.model.forward(ctx, b.t());
  for (int k = 0; k < 4; ++k)
    EXPECT_NEAR(lb.data<float>()[k], first[k], 1e-5);
  rig.arena->reset();
}

}  // namespace
}  // namespace scenecam
