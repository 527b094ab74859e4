// The residual network: torchvision's names and sizes, gradients of the whole model against
// finite differences, and learning on a batch it can memorise.
#include <cmath>

#include "model_step.hpp"
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

// Gradients of the whole model (float32) against central differences on a sample of weights.
TEST(ResNet, ModelGradientsMatchFiniteDifferences) {
  test::ModelRig rig(test::tiny_spec(), 3);
  test::F images(Shape{3, 3, 11, 9});
  test::fill_random(images, 5);
  test::Buffer<int32_t> labels(Shape{3}, {0, 3, 1});
  rig.step(images.t(), labels.t(), SgdParams{}, /*update=*/false);
  const Tensor grads = rig.model.params().grads();
  std::vector<float> analytic(grads.data<float>(), grads.data<float>() + grads.numel());

  float* w = rig.model.params().values().data<float>();
  int checked = 0;
  for (const ParamEntry& e : rig.model.params().entries()) {
    if (e.kind == ParamKind::buffer) continue;
    const int64_t offset = e.value.data<float>() - w;
    for (int64_t i : {int64_t(0), e.shape.numel() / 2, e.shape.numel() - 1}) {
      const float saved = w[offset + i];
      const float eps = 1e-3f;
      w[offset + i] = saved + eps;
      const double plus = rig.step(images.t(), labels.t(), SgdParams{}, false);
      w[offset + i] = saved - eps;
      const double minus = rig.step(images.t(), labels.t(), SgdParams{}, false);
      w[offset + i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic[offset + i], numeric, 2e-3 + 0.05 * std::abs(numeric))
          << e.name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GE(checked, 60);  // three elements of each of the tiny model's 20 trainable tensors
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
