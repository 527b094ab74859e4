// Forward ops of the CPU backend: known answers worked by hand, convolution against a direct
// loop written here, and the messages of bad calls.
#include <cmath>
#include <limits>

#include "internal/measurement.hpp"
#include "scenecam/backend.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

using test::Buffer;
using test::conv;
using test::D;
using test::F;

class CpuOps : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> be = make_cpu_backend(2);
};

// y[n, o, i, j] = sum_{c, ki, kj} x[n, g*Cg + c, i*s - p + ki*d, j*s - p + kj*d] * w[o, c, ki, kj]
template <typename T>
std::vector<double> direct_conv(const Conv2dParams& p, const Buffer<T>& x, const Buffer<T>& w) {
  const Shape xs = x.shape(), ws = w.shape(), ys = conv2d_output_shape(p, xs, ws);
  const int64_t Cg = ws[1], Og = ws[0] / p.groups;
  std::vector<double> y(ys.numel(), 0.0);
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t o = 0; o < ys[1]; ++o)
      for (int64_t i = 0; i < ys[2]; ++i)
        for (int64_t j = 0; j < ys[3]; ++j) {
          double acc = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t ki = 0; ki < ws[2]; ++ki)
              for (int64_t kj = 0; kj < ws[3]; ++kj) {
                const int64_t ih = i * p.stride_h - p.pad_h + ki * p.dilation_h;
                const int64_t iw = j * p.stride_w - p.pad_w + kj * p.dilation_w;
                if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
                const int64_t ci = (o / Og) * Cg + c;
                acc += double(x[((n * xs[1] + ci) * xs[2] + ih) * xs[3] + iw]) *
                       double(w[((o * Cg + c) * ws[2] + ki) * ws[3] + kj]);
              }
          y[((n * ys[1] + o) * ys[2] + i) * ys[3] + j] = acc;
        }
  return y;
}

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dParams p;
};

std::vector<ConvCase> conv_cases() {
  return {
      {"3x3 stride 1 pad 1", Shape{3, 3, 7, 5}, Shape{4, 3, 3, 3}, conv(1, 1)},
      {"3x3 stride 2 pad 1", Shape{3, 3, 7, 5}, Shape{5, 3, 3, 3}, conv(2, 1)},
      {"1x1 direct", Shape{3, 6, 7, 5}, Shape{4, 6, 1, 1}, conv(1, 0)},
      {"1x1 stride 2", Shape{3, 6, 7, 5}, Shape{4, 6, 1, 1}, conv(2, 0)},
      {"7x7 stride 2 pad 3", Shape{2, 3, 9, 11}, Shape{4, 3, 7, 7}, conv(2, 3)},
      {"groups 3", Shape{3, 6, 7, 5}, Shape{9, 2, 3, 3}, conv(1, 1, 1, 3)},
      {"dilation 2", Shape{2, 3, 7, 6}, Shape{2, 3, 3, 3}, conv(1, 2, 2)},
      {"batch 1, 5x3 kernel", Shape{1, 2, 8, 5}, Shape{3, 2, 5, 3}, conv(1, 0)},
  };
}

TEST_F(CpuOps, ConvForwardKnownAnswer) {
  // x = 1..9 in a 3x3 image, w = [[1, 0], [0, 1]]: each output is x[i][j] + x[i+1][j+1].
  F x(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  F w(Shape{1, 1, 2, 2}, {1, 0, 0, 1});
  F y(Shape{1, 1, 2, 2});
  be->conv2d_forward(Conv2dParams{}, x.t(), w.t(), y.t());
  EXPECT_EQ(y.values(), (std::vector<float>{6, 8, 12, 14}));
  // Padding 1, stride 2: windows start at (-1,-1), (-1,1), (1,-1), (1,1); padded taps add 0.
  F y2(Shape{1, 1, 2, 2});
  be->conv2d_forward(conv(2, 1), x.t(), w.t(), y2.t());
  EXPECT_EQ(y2.values(), (std::vector<float>{1, 3, 7, 5 + 9}));
}

TEST_F(CpuOps, ConvForwardMatchesDirectLoopF32AndF64) {
  uint64_t seed = 1;
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    const Shape ys = conv2d_output_shape(c.p, c.x, c.w);
    F xf(c.x), wf(c.w), yf(ys);
    D xd(c.x), wd(c.w), yd(ys);
    test::fill_random(xd, seed++);
    test::fill_random(wd, seed++);
    for (size_t i = 0; i < xd.size(); ++i)
      xf[i] = float(xd[i]);
    for (size_t i = 0; i < wd.size(); ++i)
      wf[i] = float(wd[i]);
    test::poison(yf);
    test::poison(yd);
    be->conv2d_forward(c.p, xf.t(), wf.t(), yf.t());
    be->conv2d_forward(c.p, xd.t(), wd.t(), yd.t());
    const std::vector<double> ref = direct_conv(c.p, xd, wd);
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_NEAR(yd[i], ref[i], 1e-12) << i;
      ASSERT_NEAR(yf[i], ref[i], 1e-5) << i;
    }
  }
}

// Large enough that im2col works in several tiles of output rows (K x P above 2^20 elements):
// forward against the direct loop, and both backward ops through the adjoint identities
// <conv(x, w), r> = <x, backward_data(r, w)> = <w, backward_filter(x, r)>.
TEST_F(CpuOps, ConvTiledLargeImageMatchesDirectLoopAndAdjoints) {
  const Conv2dParams p = conv(1, 1);
  const Shape xs{2, 16, 95, 90}, ws{5, 16, 3, 3};
  const Shape ys = conv2d_output_shape(p, xs, ws);
  D x(xs), w(ws), y(ys), r(ys), dx(xs), dw(ws);
  test::fill_random(x, 3);
  test::fill_random(w, 4);
  test::fill_random(r, 5);
  test::poison(y);
  test::poison(dx);
  test::poison(dw);
  be->conv2d_forward(p, x.t(), w.t(), y.t());
  const std::vector<double> ref = direct_conv(p, x, w);
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(y[i], ref[i], 1e-12) << i;
  be->conv2d_backward_data(p, r.t(), w.t(), dx.t());
  be->conv2d_backward_filter(p, x.t(), r.t(), dw.t());
  const double forward = test::dot(r, y);
  EXPECT_NEAR(test::dot(x, dx), forward, 1e-9 * std::abs(forward));
  EXPECT_NEAR(test::dot(w, dw), forward, 1e-9 * std::abs(forward));
}

// Outputs narrower than a column tile (the deep layers of small images) are computed several
// whole images per matrix product; the tiles' edges (a last, partial tile), groups and strides,
// with teams of 1, 2 and 3 threads, against the direct loop and the adjoint identities.
TEST(CpuConv, ImageTilesMatchDirectLoopAndAdjoints) {
  struct Case {
    Shape x, w;
    Conv2dParams p;
  };
  for (int threads : {1, 2, 3}) {
    auto be = make_cpu_backend(threads);
    for (const Case& c : {Case{Shape{7, 6, 5, 4}, Shape{5, 6, 3, 3}, conv(1, 1)},
                          Case{Shape{5, 4, 7, 6}, Shape{6, 2, 3, 3}, conv(2, 1, 1, 2)},
                          Case{Shape{4, 3, 6, 6}, Shape{4, 3, 1, 1}, conv(2, 0)}}) {
      SCOPED_TRACE(threads);
      SCOPED_TRACE(c.x.str());
      if (threads > 1 && c.x[0] > threads) {
        EXPECT_NE(measurement_of(*be).conv_algorithm(c.p, c.x, c.w, ConvPass::forward).find("images/tile"),
                  std::string::npos)
            << measurement_of(*be).conv_algorithm(c.p, c.x, c.w, ConvPass::forward);
      }
      const Shape ys = conv2d_output_shape(c.p, c.x, c.w);
      D x(c.x), w(c.w), y(ys), r(ys), dx(c.x), dw(c.w);
      test::fill_random(x, 31);
      test::fill_random(w, 32);
      test::fill_random(r, 33);
      test::poison(y);
      test::poison(dx);
      test::poison(dw);
      be->conv2d_forward(c.p, x.t(), w.t(), y.t());
      const std::vector<double> ref = direct_conv(c.p, x, w);
      for (size_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], 1e-12) << i;
      be->conv2d_backward_data(c.p, r.t(), w.t(), dx.t());
      be->conv2d_backward_filter(c.p, x.t(), r.t(), dw.t());
      const double forward = test::dot(r, y);
      EXPECT_NEAR(test::dot(x, dx), forward, 1e-10 * (1 + std::abs(forward)));
      EXPECT_NEAR(test::dot(w, dw), forward, 1e-10 * (1 + std::abs(forward)));
    }
  }
  make_cpu_backend(2);  // the other tests' team size
}

TEST_F(CpuOps, ConvShapeErrorsNameOpArgumentAndShapes) {
  F x(Shape{2, 3, 7, 5}), w(Shape{4, 3, 3, 3}), y(Shape{2, 4, 6, 5});
  test::expect_error([&] { be->conv2d_forward(conv(1, 1), x.t(), w.t(), y.t()); },
                     {"conv2d_forward", "'y'", "[2, 4, 6, 5]", "[2, 4, 7, 5]"});
  F w_bad(Shape{4, 2, 3, 3});
  test::expect_error([&] { be->conv2d_forward(conv(1, 1), x.t(), w_bad.t(), y.t()); },
                     {"conv2d", "[4, 2, 3, 3]", "[2, 3, 7, 5]"});
  D wd(Shape{4, 3, 3, 3});
  test::expect_error([&] { be->conv2d_forward(conv(1, 1), x.t(), wd.t(), y.t()); },
                     {"conv2d_forward", "'w'", "f64", "expected f32"});
}

TEST_F(CpuOps, WrongDeviceIsRefusedWithBothPlaces) {
  float storage[4] = {};
  Tensor on_gpu(storage, Shape{4}, DType::f32, Device::cuda(0));
  F y(Shape{4});
  test::expect_error([&] { be->relu_forward(on_gpu, y.t()); }, {"relu_forward", "cuda:0"});
  test::expect_error([&] { be->relu_forward(y.t(), on_gpu); },
                     {"relu_forward", "'y'", "cuda:0", "cpu"});
}

TEST_F(CpuOps, NhwcIsRefusedClearlyByTheCpuBackend) {
  std::vector<float> s(24);
  Tensor x(s.data(), Shape{1, 2, 3, 4}, DType::f32, Device::cpu(), Layout::nhwc);
  F y(Shape{1, 2, 3, 4});
  test::expect_error([&] { be->relu_forward(x, y.t()); }, {"relu_forward", "layout nhwc"});
}

TEST_F(CpuOps, ReluKnownAnswer) {
  F x(Shape{5}, {-2, -0.5f, 0, 0.5f, 3}), y(Shape{5});
  be->relu_forward(x.t(), y.t());
  EXPECT_EQ(y.values(), (std::vector<float>{0, 0, 0, 0.5f, 3}));
  be->relu_forward(x.t(), x.t());  // in place
  EXPECT_EQ(x.values(), y.values());
}

TEST_F(CpuOps, NaNPropagatesThroughReluJoinAndMaxPool) {
  // A diverging run must show in its loss: ReLU and max pooling pass NaN on, as PyTorch's do.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  F x(Shape{1, 1, 2, 2}, {nan, -1, 2, 3}), y(Shape{1, 1, 2, 2});
  be->relu_forward(x.t(), y.t());
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 0.0f);
  be->add_relu_forward(x.t(), x.t(), y.t());
  EXPECT_TRUE(std::isnan(y[0]));
  F p(Shape{1, 1, 1, 1});
  be->max_pool2d_forward(Pool2dParams{2, 2, 2, 2, 0, 0}, x.t(), p.t());
  EXPECT_TRUE(std::isnan(p[0]));
  x[0] = 1;
  x[3] = nan;  // NaN last in the window
  be->max_pool2d_forward(Pool2dParams{2, 2, 2, 2, 0, 0}, x.t(), p.t());
  EXPECT_TRUE(std::isnan(p[0]));
}

TEST_F(CpuOps, MaxPoolKnownAnswerWithPadding) {
  // 4x4 ramp, 3x3 window, stride 2, pad 1 (the ResNet stem): windows centred on (0,0), (0,2),
  // (2,0), (2,2); each maximum is the window's bottom-right in-image element.
  F x(Shape{1, 1, 4, 4});
  for (int i = 0; i < 16; ++i)
    x[i] = float(i);
  Pool2dParams p{3, 3, 2, 2, 1, 1};
  F y(Shape{1, 1, 2, 2});
  be->max_pool2d_forward(p, x.t(), y.t());
  EXPECT_EQ(y.values(), (std::vector<float>{5, 7, 13, 15}));
  F dy(Shape{1, 1, 2, 2}, {1, 2, 3, 4}), dx(Shape{1, 1, 4, 4});
  test::poison(dx);
  be->max_pool2d_backward(p, x.t(), dy.t(), dx.t());
  std::vector<float> expect(16, 0.0f);
  expect[5] = 1, expect[7] = 2, expect[13] = 3, expect[15] = 4;
  EXPECT_EQ(dx.values(), expect);
}

TEST_F(CpuOps, MaxPoolAllNegativeWindowsAndOverlaps) {
  // Padding never wins, even when every real value is negative; overlapping windows that share
  // a maximum add their gradients.
  F x(Shape{1, 1, 3, 3}, {-9, -8, -7, -6, -1, -4, -3, -2, -5});
  Pool2dParams p{2, 2, 1, 1, 0, 0};
  F y(Shape{1, 1, 2, 2});
  be->max_pool2d_forward(p, x.t(), y.t());
  EXPECT_EQ(y.values(), (std::vector<float>{-1, -1, -1, -1}));
  F dy(Shape{1, 1, 2, 2}, {1, 1, 1, 1}), dx(Shape{1, 1, 3, 3});
  be->max_pool2d_backward(p, x.t(), dy.t(), dx.t());
  EXPECT_EQ(dx[4], 4.0f);
  EXPECT_EQ(dx[0] + dx[8], 0.0f);
}

TEST_F(CpuOps, PoolShapeRules) {
  EXPECT_EQ(pool2d_output_shape(Pool2dParams{3, 3, 2, 2, 1, 1}, Shape{2, 8, 56, 56}),
            (Shape{2, 8, 28, 28}));
  EXPECT_EQ(pool2d_output_shape(Pool2dParams{2, 2, 2, 2, 0, 0}, Shape{1, 1, 7, 5}),
            (Shape{1, 1, 3, 2}));
  test::expect_error(
      [] {
        pool2d_output_shape(Pool2dParams{2, 2, 2, 2, 2, 0}, Shape{1, 1, 4, 4});
      },
      {"padding"});
}

TEST_F(CpuOps, GlobalAvgPoolKnownAnswer) {
  F x(Shape{1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40}), y(Shape{1, 2});
  be->global_avg_pool_forward(x.t(), y.t());
  EXPECT_EQ(y.values(), (std::vector<float>{2.5f, 25.0f}));
  F dx(Shape{1, 2, 2, 2});
  be->global_avg_pool_backward(y.t(), dx.t());
  EXPECT_FLOAT_EQ(dx[0], 0.625f);
  EXPECT_FLOAT_EQ(dx[7], 6.25f);
}

TEST_F(CpuOps, AddReluKnownAnswer) {
  F a(Shape{4}, {1, -3, 0.5f, 2}), b(Shape{4}, {1, 1, -1, -1}), y(Shape{4});
  be->add_relu_forward(a.t(), b.t(), y.t());
  EXPECT_EQ(y.values(), (std::vector<float>{2, 0, 0, 1}));
  F dy(Shape{4}, {5, 6, 7, 8}), ds(Shape{4});
  be->add_relu_backward(y.t(), dy.t(), ds.t());
  EXPECT_EQ(ds.values(), (std::vector<float>{5, 0, 0, 8}));
}

TEST_F(CpuOps, LinearKnownAnswer) {
  F x(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  F w(Shape{2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f});
  F b(Shape{2}, {10, -10});
  F y(Shape{2, 2});
  be->linear_forward(x.t(), w.t(), b.t(), y.t());
  EXPECT_EQ(y.values(), (std::vector<float>{8, -7, 8, -2.5f}));
  test::expect_error(
      [&] {
        F wb(Shape{2, 4});
        be->linear_forward(x.t(), wb.t(), b.t(), y.t());
      },
      {"linear_forward", "'w'", "[2, 4]", "3 features"});
}

TEST_F(CpuOps, BatchNormTrainingNormalisesAndUpdatesRunningStats) {
  // One channel holding 1, 2, 3, 4 (mean 2.5, biased variance 1.25, unbiased 5/3).
  D x(Shape{2, 1, 1, 2}, {1, 2, 3, 4}), gamma(Shape{1}, {2}), beta(Shape{1}, {1});
  D rm(Shape{1}, {0}), rv(Shape{1}, {1}), y(Shape{2, 1, 1, 2}), sm(Shape{1}), si(Shape{1});
  BatchNormParams p;
  p.eps = 0;
  be->batch_norm_forward_training(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), y.t(), sm.t(),
                                  si.t());
  const double s = std::sqrt(1.25);
  EXPECT_NEAR(y[0], 2 * (1 - 2.5) / s + 1, 1e-12);
  EXPECT_NEAR(y[3], 2 * (4 - 2.5) / s + 1, 1e-12);
  EXPECT_NEAR(sm[0], 2.5, 1e-12);
  EXPECT_NEAR(si[0], 1 / s, 1e-12);
  EXPECT_NEAR(rm[0], 0.25, 1e-12);
  EXPECT_NEAR(rv[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-12);
  // Inference with those running statistics.
  D yi(Shape{2, 1, 1, 2});
  be->batch_norm_forward_inference(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), yi.t());
  EXPECT_NEAR(yi[1], 2 * (2 - rm[0]) / std::sqrt(rv[0]) + 1, 1e-12);
}

TEST_F(CpuOps, BatchNormRefusesASingleValuePerChannel) {
  F x(Shape{1, 2}), g(Shape{2}), b(Shape{2}), rm(Shape{2}), rv(Shape{2}), y(Shape{1, 2}),
      sm(Shape{2}), si(Shape{2});
  test::expect_error(
      [&] {
        be->batch_norm_forward_training(BatchNormParams{}, x.t(), g.t(), b.t(), rm.t(), rv.t(),
                                        y.t(), sm.t(), si.t());
      },
      {"batch_norm_forward_training", "one value per channel"});
}

TEST_F(CpuOps, SoftmaxCrossEntropyKnownAnswer) {
  // Uniform logits over 4 classes: loss log 4, gradient (1/4 - onehot) / N.
  F z(Shape{2, 4}), loss(Shape{1}), dz(Shape{2, 4});
  Buffer<int32_t> labels(Shape{2}, {0, 3});
  be->fill(z.t(), 0.7);
  be->softmax_cross_entropy(z.t(), labels.t(), 0.0f, loss.t(), dz.t());
  EXPECT_NEAR(loss[0], std::log(4.0), 1e-6);
  EXPECT_NEAR(dz[0], (0.25 - 1) / 2, 1e-7);
  EXPECT_NEAR(dz[1], 0.25 / 2, 1e-7);
  EXPECT_NEAR(dz[7], (0.25 - 1) / 2, 1e-7);
  // Label smoothing 1 makes the target uniform: the uniform prediction is then perfect.
  be->softmax_cross_entropy(z.t(), labels.t(), 1.0f, loss.t(), dz.t());
  EXPECT_NEAR(loss[0], std::log(4.0), 1e-6);
  for (size_t i = 0; i < dz.size(); ++i)
    EXPECT_NEAR(dz[i], 0.0, 1e-7);
}

TEST_F(CpuOps, SoftmaxCrossEntropyIsStableForHugeLogits) {
  F z(Shape{1, 3}, {1000, 0, -1000}), loss(Shape{1});
  Buffer<int32_t> labels(Shape{1}, {1});
  be->softmax_cross_entropy(z.t(), labels.t(), 0.0f, loss.t(), Tensor());
  EXPECT_NEAR(loss[0], 1000.0, 1e-3);
  EXPECT_TRUE(std::isfinite(loss[0]));
}

TEST_F(CpuOps, SoftmaxCrossEntropyRejectsBadLabels) {
  F z(Shape{2, 3}), loss(Shape{1});
  Buffer<int32_t> labels(Shape{2}, {0, 3});
  test::expect_error(
      [&] { be->softmax_cross_entropy(z.t(), labels.t(), 0.0f, loss.t(), Tensor()); },
      {"softmax_cross_entropy", "label 3 of sample 1", "[0, 3)"});
}

TEST_F(CpuOps, StepTotalsCountRightPredictionsAndNameTheFirstBadStep) {
  // Row 1 ties classes 0 and 2 (the first maximum is predicted); row 2 is NaN (predicts 0).
  const float nan = std::nanf("");
  F z(Shape{3, 3}, {0.1f, 0.9f, 0.2f, 0.5f, 0.1f, 0.5f, nan, nan, nan}), loss(Shape{1}, {0.25f});
  Buffer<int32_t> labels(Shape{3}, {1, 2, 0});
  D totals(Shape{kStepTotalsFields}, {0, 0, 0, 0, 0, 0});
  be->step_totals_acc(z.t(), labels.t(), loss.t(), totals.t());
  EXPECT_EQ(totals.values(), (std::vector<double>{0.25 * 3, 2, 3, 1, 0, 0}));
  loss[0] = std::numeric_limits<float>::infinity();
  be->step_totals_acc(z.t(), labels.t(), loss.t(), totals.t());
  loss[0] = nan;
  be->step_totals_acc(z.t(), labels.t(), loss.t(), totals.t());
  EXPECT_EQ(totals[kTotalSteps], 3);
  EXPECT_EQ(totals[kTotalSeen], 9);
  EXPECT_EQ(totals[kFirstBadStep], 2);  // the infinite one, not the NaN after it
  EXPECT_EQ(totals[kFirstBadLoss], std::numeric_limits<double>::infinity());
  F wrong(Shape{1}, {0.0f});
  test::expect_error([&] { be->step_totals_acc(z.t(), labels.t(), loss.t(), wrong.t()); },
                     {"step_totals_acc", "'totals'", "dtype f32, expected f64"});
  Buffer<int32_t> short_labels(Shape{2}, {0, 1});
  test::expect_error([&] { be->step_totals_acc(z.t(), short_labels.t(), loss.t(), totals.t()); },
                     {"step_totals_acc", "'labels'", "[2]", "[3]"});
}

TEST_F(CpuOps, CamChannelWeightsAndWeightedSum) {
  // Two channels of 2x2; gradients average to 1 and -0.5.
  F grads(Shape{1, 2, 2, 2}, {1, 1, 2, 0, -1, 0, 0, -1}), weights(Shape{1, 2});
  be->cam_channel_weights(grads.t(), weights.t());
  EXPECT_EQ(weights.values(), (std::vector<float>{1.0f, -0.5f}));
  F acts(Shape{1, 2, 2, 2}, {1, 2, 3, 4, 4, 4, 4, 4}), cam(Shape{1, 2, 2});
  test::poison(cam);
  be->cam_weighted_sum_relu(acts.t(), weights.t(), cam.t());
  EXPECT_EQ(cam.values(), (std::vector<float>{0, 0, 1, 2}));  // relu(a0 - 2)
}

TEST_F(CpuOps, CopyFillAndAccumulate) {
  F a(Shape{3}, {1, 2, 3}), b(Shape{3});
  be->copy(a.t(), b.t());
  EXPECT_EQ(b.values(), a.values());
  be->add_(b.t(), a.t());
  EXPECT_EQ(b.values(), (std::vector<float>{2, 4, 6}));
  be->fill(b.t(), -1.5);
  EXPECT_EQ(b.values(), (std::vector<float>{-1.5f, -1.5f, -1.5f}));
  F c(Shape{4});
  test::expect_error([&] { be->copy(a.t(), c.t()); }, {"copy", "'dst'", "[4]", "[3]"});
}

}  // namespace
}  // namespace scenecam
