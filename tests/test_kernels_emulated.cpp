// The custom kernels' real CUDA source (cuda/*.cu, with the CUDA backend's own argument checks
// and launchers) run on the CPU through the emulated execution layer (tests/emu/), against the
// CPU backend: every case of the shared kernel table (bench/kernel_cases.hpp), outputs poisoned
// with NaN, sizes that are multiples of nothing, grids capped at 7 blocks so the grid-stride
// loops iterate, guard bytes after every tensor. Then a few training steps of a ResNet through
// the emulated kernels, and the layer's own checks: deliberately broken copies of real kernels
// (a missing barrier, an off-by-one bound, a wrong shuffle mask) must be caught.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "broken_kernels.hpp"
#include "emulated_backend.hpp"
#include "emulator.hpp"
#include "input_pipeline.hpp"
#include "kernel_cases.hpp"
#include "model_step.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

using bench::Case;

// Above 7 blocks x 256 threads x 4 floats, so even the float4 loops take several strides.
constexpr int64_t kFlat = 7 * 256 * 4 * 2 + 13;

std::vector<Case> table() {
  std::vector<Case> all = bench::odd_size_cases(kFlat);
  for (auto [input, batch] : {std::pair{33, 3}, std::pair{65, 2}})
    for (Case& c : bench::step_cases(input, batch))
      all.push_back(std::move(c));
  for (Case& c : bench::optimizer_cases(100003))
    all.push_back(std::move(c));
  return all;
}

class EmulatedKernelCase : public ::testing::TestWithParam<Case> {};

// Each case twice: threads resumed in increasing order, then in decreasing order, so a missing
// barrier shows whichever side of it runs ahead.
TEST_P(EmulatedKernelCase, MatchesTheCpuBackend) {
  auto emulated = make_emulated_kernel_backend();
  auto cpu = make_cpu_backend(1);
  for (emu::Schedule order : {emu::Schedule::increasing, emu::Schedule::decreasing}) {
    emu::set_schedule(order);
    try {
      bench::validate(*emulated, *cpu, GetParam());
    } catch (const Error& e) {
      ADD_FAILURE() << (order == emu::Schedule::increasing ? "increasing" : "decreasing")
                    << " order: " << e.what();
    }
  }
  emu::set_schedule(emu::Schedule::increasing);
}

INSTANTIATE_TEST_SUITE_P(Table, EmulatedKernelCase, ::testing::ValuesIn(table()),
                         [](const auto& info) { return info.param.identifier(info.index); });

TEST(EmulatedKernels, OutOfRangeLabelMakesTheLossNaN) {
  auto be = make_emulated_kernel_backend();
  test::F logits(Shape{3, 7}), loss(Shape{1}), dlogits(Shape{3, 7});
  test::fill_random(logits, 1);
  test::Buffer<int32_t> labels(Shape{3}, {2, 7, 0});  // 7 is one past the last class
  be->softmax_cross_entropy(logits.t(), labels.t(), 0.0f, loss.t(), dlogits.t());
  EXPECT_TRUE(std::isnan(loss[0]));
  for (int k = 0; k < 7; ++k) {
    EXPECT_TRUE(std::isnan(dlogits[7 + k])) << k;
    EXPECT_TRUE(std::isfinite(dlogits[k])) << k;
  }
}

// More rows than a block has threads, random labels, then a step whose loss is NaN: the device's
// totals equal the CPU backend's, and name the bad step.
TEST(EmulatedKernels, StepTotalsOverManyRowsMatchTheCpuBackend) {
  auto emulated = make_emulated_kernel_backend();
  auto cpu = make_cpu_backend(1);
  constexpr int64_t rows = 300, classes = 5;
  test::F logits(Shape{rows, classes}), loss(Shape{1}, {1.5f});
  test::fill_random(logits, 3);
  std::vector<int32_t> label_values(rows);
  for (int64_t i = 0; i < rows; ++i)
    label_values[i] = int32_t((i * 7) % classes);
  test::Buffer<int32_t> labels(Shape{rows}, label_values);
  test::D ours(Shape{kStepTotalsFields}, {0, 0, 0, 0, 0, 0}),
      want(Shape{kStepTotalsFields}, {0, 0, 0, 0, 0, 0});
  for (float step_loss : {1.5f, std::nanf(""), 0.5f}) {
    loss[0] = step_loss;
    emulated->step_totals_acc(logits.t(), labels.t(), loss.t(), ours.t());
    cpu->step_totals_acc(logits.t(), labels.t(), loss.t(), want.t());
  }
  for (int i = 0; i < kStepTotalsFields; ++i)
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(ours[i])) << "field " << i;
    else
      EXPECT_EQ(ours[i], want[i]) << "field " << i;
  EXPECT_EQ(ours[kFirstBadStep], 2);
  EXPECT_GT(ours[kTotalCorrect], 0);
}

// The trainer's input pipeline over the emulated kernels (tests/input_pipeline.hpp).
TEST(EmulatedKernels, StagedAndResidentBatchesEqualTheCpusStagedOnes) {
  auto emulated = make_emulated_kernel_backend();
  test::expect_batches_equal_the_cpus(*emulated);
}

// Five SGD steps of a small ResNet: every custom kernel of a training step in one run.
TEST(EmulatedKernels, ResNetStepsMatchTheCpuBackend) {
  test::ModelRig cpu(test::tiny_spec(), 7),
      emulated(test::tiny_spec(), 7, DType::f32, make_emulated_kernel_backend());
  test::F images(Shape{4, 3, 15, 15});
  test::fill_random(images, 8);
  test::Buffer<int32_t> labels(Shape{4}, {0, 1, 2, 3});
  SgdParams sgd;
  sgd.lr = 0.05f;
  for (int step = 0; step < 5; ++step) {
    const double want = cpu.step(images.t(), labels.t(), sgd);
    const double got = emulated.step(images.t(), labels.t(), sgd);
    EXPECT_NEAR(got, want, 1e-4 * std::max(1.0, std::abs(want))) << "step " << step;
  }
}

TEST(EmulatedKernels, ABadLaunchConfigurationIsReported) {
  test::expect_error([] { broken::launch_with_threads(2048); },
                     {"cudaGetLastError()", "invalid configuration argument"});
  broken::launch_with_threads(1024);
}

// ---- what the layer catches: broken copies of real kernels ----

TEST(EmulatedKernels, TheFaithfulCopiesPass) {
  auto be = make_emulated_kernel_backend();
  auto pool = be->make_pool("broken", 1 << 16, false);
  const int64_t n = 1000, planes = 5, hw = 37;
  const Tensor values = pool->take(Shape{n}, DType::f32, "values");
  std::iota(values.data<float>(), values.data<float>() + n, 0.0f);
  const Tensor mean = pool->take(Shape{1}, DType::f32, "mean");
  broken::block_mean(values.data<float>(), mean.data<float>(), n, false);
  EXPECT_FLOAT_EQ(mean.data<float>()[0], 499.5f);
  const Tensor dy = pool->take(Shape{planes}, DType::f32, "dy");
  const Tensor dx = pool->take(Shape{planes * hw}, DType::f32, "dx");
  be->fill(dy, 37.0);
  broken::avg_pool_backward(dy.data<float>(), dx.data<float>(), planes, hw, false);
  EXPECT_FLOAT_EQ(dx.data<float>()[planes * hw - 1], 1.0f);
  const Tensor y = pool->take(Shape{planes}, DType::f32, "y");
  broken::avg_pool_forward(dx.data<float>(), y.data<float>(), planes, hw, false);
  EXPECT_FLOAT_EQ(y.data<float>()[planes - 1], 1.0f);
}

TEST(EmulatedKernels, AMissingSyncthreadsIsCaught) {
  std::vector<float> values(1000);
  std::iota(values.begin(), values.end(), 0.0f);
  float mean = 0;
  broken::block_mean(values.data(), &mean, 1000, true);
  // Thread 0 runs ahead and sums partial values its neighbours have not finished.
  EXPECT_NE(mean, 499.5f) << "the layer did not expose the missing barrier";
}

TEST(EmulatedKernels, ABroadcastWithoutABarrierIsCaught) {
  const float one = 1, five = 5;
  std::vector<float> out(256);
  broken::broadcast(&one, out.data(), false);
  EXPECT_EQ(out[255], 2.0f);
  emu::set_schedule(emu::Schedule::decreasing);
  broken::broadcast(&five, out.data(), false);
  EXPECT_EQ(out[255], 10.0f) << "the faithful copy passes in either order";
  broken::broadcast(&one, out.data(), true);
  emu::set_schedule(emu::Schedule::increasing);
  // Threads 255..1 ran before thread 0 wrote: they read the value the last launch left.
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[255], 10.0f) << "the layer did not expose the missing barrier";
}

TEST(EmulatedKernels, AnOffByOneBoundIsCaught) {
  auto be = make_emulated_kernel_backend();
  auto pool = be->make_pool("broken", 1 << 16, false);
  const int64_t planes = 5, hw = 37;
  const Tensor dy = pool->take(Shape{planes}, DType::f32, "dy");
  const Tensor dx = pool->take(Shape{planes * hw}, DType::f32, "dx");
  be->fill(dy, 1.0);
  auto broken_launch = [&] {
    broken::avg_pool_backward(dy.data<float>(), dx.data<float>(), planes, hw, true);
  };
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer the first stray access (the read past dy) stops the process.
  EXPECT_DEATH(broken_launch(), "AddressSanitizer");
#else
  test::expect_error(broken_launch, {"guard bytes after 'dx'", "out-of-bounds write"});
#endif
}

TEST(EmulatedKernels, AWrongShuffleMaskIsCaught) {
  std::vector<float> x(5 * 37, 1.0f), y(5);
  test::expect_error([&] { broken::avg_pool_forward(x.data(), y.data(), 5, 37, true); },
                     {"lane 0 of warp 0 reads lane 16", "mask 0x0000ffff leaves out"});
}

}  // namespace
}  // namespace scenecam
