// Finite-difference gradient checks, in double precision, of every CPU op that has a backward.
// Each check turns the op's output into a scalar with a fixed random projection L = <r, y>, runs
// the backward with dy = r, and compares every input gradient with central differences of L.
// Inputs are odd-sized (7x5 images, 3 channels, batch 3) and kept away from ReLU and max-pool
// kinks.
#include "scenecam/backend.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

using test::conv;
using test::D;

class GradCheck : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> be = make_cpu_backend(2);
};

void check_conv(Backend& be, const Conv2dParams& p, const Shape& xs, const Shape& ws) {
  const Shape ys = conv2d_output_shape(p, xs, ws);
  D x(xs), w(ws), y(ys), r(ys), dx(xs), dw(ws);
  test::fill_random(x, 11);
  test::fill_random(w, 12);
  test::fill_random(r, 13);
  test::poison(dx);
  test::poison(dw);
  be.conv2d_backward_data(p, r.t(), w.t(), dx.t());
  be.conv2d_backward_filter(p, x.t(), r.t(), dw.t());
  auto loss = [&] {
    be.conv2d_forward(p, x.t(), w.t(), y.t());
    return test::dot(r, y);
  };
  test::expect_gradient("conv2d dx", x, dx, loss);
  test::expect_gradient("conv2d dw", w, dw, loss);
}

TEST_F(GradCheck, Conv3x3Stride1Pad1) {
  check_conv(*be, conv(1, 1), Shape{3, 3, 7, 5}, Shape{4, 3, 3, 3});
}
TEST_F(GradCheck, Conv3x3Stride2Pad1) {
  check_conv(*be, conv(2, 1), Shape{3, 3, 7, 5}, Shape{2, 3, 3, 3});
}
TEST_F(GradCheck, Conv1x1Direct) {
  check_conv(*be, conv(1, 0), Shape{3, 4, 7, 5}, Shape{3, 4, 1, 1});
}
TEST_F(GradCheck, Conv1x1Stride2) {
  check_conv(*be, conv(2, 0), Shape{3, 4, 7, 5}, Shape{3, 4, 1, 1});
}
TEST_F(GradCheck, Conv7x7Stride2Pad3) {
  check_conv(*be, conv(2, 3), Shape{2, 3, 7, 5}, Shape{2, 3, 7, 7});
}
TEST_F(GradCheck, ConvGroups) {
  check_conv(*be, conv(1, 1, 1, 3), Shape{3, 6, 7, 5}, Shape{6, 2, 3, 3});
}
TEST_F(GradCheck, ConvDilation) {
  check_conv(*be, conv(1, 2, 2), Shape{2, 3, 7, 5}, Shape{2, 3, 3, 3});
}
TEST_F(GradCheck, ConvBatchOneRectangularKernel) {
  check_conv(*be, conv(1, 1), Shape{1, 2, 7, 5}, Shape{3, 2, 3, 2});
}

void check_batch_norm(Backend& be, const Shape& xs) {
  const Shape c{xs[1]};
  D x(xs), gamma(c), beta(c), rm(c), rv(c), y(xs), sm(c), si(c), r(xs);
  D dx(xs), dgamma(c), dbeta(c);
  test::fill_random(x, 21);
  test::fill_random(gamma, 22, 0.5);
  test::fill_random(beta, 23);
  test::fill_random(r, 24);
  be.fill(rm.t(), 0.0);
  be.fill(rv.t(), 1.0);
  BatchNormParams p;
  auto loss = [&] {
    be.batch_norm_forward_training(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), y.t(), sm.t(),
                                   si.t());
    return test::dot(r, y);
  };
  loss();
  test::poison(dx);
  be.batch_norm_backward(p, x.t(), r.t(), gamma.t(), sm.t(), si.t(), dx.t(), dgamma.t(), dbeta.t());
  test::expect_gradient("batch_norm dx", x, dx, loss);
  test::expect_gradient("batch_norm dgamma", gamma, dgamma, loss);
  test::expect_gradient("batch_norm dbeta", beta, dbeta, loss);
}

TEST_F(GradCheck, BatchNorm4d) {
  check_batch_norm(*be, Shape{3, 3, 7, 5});
}
TEST_F(GradCheck, BatchNorm2d) {
  check_batch_norm(*be, Shape{5, 4});
}

TEST_F(GradCheck, BatchNormInference) {
  const Shape s{3, 3, 7, 5}, c{3};
  D x(s), gamma(c), beta(c), rm(c), rv(c), y(s), r(s), dx(s);
  test::fill_random(x, 25);
  test::fill_random(gamma, 26, 0.5);
  test::fill_random(beta, 27);
  test::fill_random(rm, 28);
  test::fill_random(rv, 29, 0.2);
  for (size_t i = 0; i < rv.size(); ++i)
    rv[i] = std::abs(rv[i]);
  test::fill_random(r, 30);
  BatchNormParams p;
  test::poison(dx);
  be->batch_norm_backward_inference(p, r.t(), gamma.t(), rv.t(), dx.t());
  test::expect_gradient("batch_norm inference dx", x, dx, [&] {
    be->batch_norm_forward_inference(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), y.t());
    return test::dot(r, y);
  });
}

TEST_F(GradCheck, Relu) {
  const Shape s{3, 3, 7, 5};
  D x(s), y(s), r(s), dx(s);
  test::fill_random(x, 31, 0.05);
  test::fill_random(r, 32);
  be->relu_forward(x.t(), y.t());
  test::poison(dx);
  be->relu_backward(y.t(), r.t(), dx.t());
  test::expect_gradient("relu dx", x, dx, [&] {
    be->relu_forward(x.t(), y.t());
    return test::dot(r, y);
  });
}

void check_max_pool(Backend& be, const Pool2dParams& p, const Shape& xs) {
  const Shape ys = pool2d_output_shape(p, xs);
  D x(xs), y(ys), r(ys), dx(xs);
  test::fill_distinct(x, 41);
  test::fill_random(r, 42);
  test::poison(dx);
  be.max_pool2d_backward(p, x.t(), r.t(), dx.t());
  // eps far below the gap between distinct values, so no window changes its winner.
  test::expect_gradient(
      "max_pool dx", x, dx,
      [&] {
        be.max_pool2d_forward(p, x.t(), y.t());
        return test::dot(r, y);
      },
      1e-7);
}

TEST_F(GradCheck, MaxPool3x3Stride2Pad1) {
  check_max_pool(*be, Pool2dParams{3, 3, 2, 2, 1, 1}, Shape{3, 3, 7, 5});
}
TEST_F(GradCheck, MaxPool2x2Stride2) {
  check_max_pool(*be, Pool2dParams{2, 2, 2, 2, 0, 0}, Shape{3, 3, 7, 5});
}
TEST_F(GradCheck, MaxPoolOverlapping3x3Stride1) {
  check_max_pool(*be, Pool2dParams{3, 3, 1, 1, 0, 0}, Shape{2, 3, 7, 5});
}

TEST_F(GradCheck, GlobalAvgPool) {
  const Shape s{3, 3, 7, 5};
  D x(s), y(Shape{3, 3}), r(Shape{3, 3}), dx(s);
  test::fill_random(x, 51);
  test::fill_random(r, 52);
  test::poison(dx);
  be->global_avg_pool_backward(r.t(), dx.t());
  test::expect_gradient("global_avg_pool dx", x, dx, [&] {
    be->global_avg_pool_forward(x.t(), y.t());
    return test::dot(r, y);
  });
}

TEST_F(GradCheck, AddRelu) {
  const Shape s{3, 3, 7, 5};
  D a(s), b(s), y(s), r(s), dsum(s);
  test::fill_random(a, 61);
  test::fill_random(b, 62);
  for (size_t i = 0; i < a.size(); ++i)  // keep a + b away from the kink
    if (std::abs(a[i] + b[i]) < 0.05) b[i] += 0.1;
  test::fill_random(r, 63);
  be->add_relu_forward(a.t(), b.t(), y.t());
  test::poison(dsum);
  be->add_relu_backward(y.t(), r.t(), dsum.t());
  auto loss = [&] {
    be->add_relu_forward(a.t(), b.t(), y.t());
    return test::dot(r, y);
  };
  test::expect_gradient("add_relu da", a, dsum, loss);
  test::expect_gradient("add_relu db", b, dsum, loss);
}

TEST_F(GradCheck, Linear) {
  D x(Shape{3, 7}), w(Shape{5, 7}), b(Shape{5}), y(Shape{3, 5}), r(Shape{3, 5});
  D dx(Shape{3, 7}), dw(Shape{5, 7}), db(Shape{5});
  test::fill_random(x, 71);
  test::fill_random(w, 72);
  test::fill_random(b, 73);
  test::fill_random(r, 74);
  test::poison(dx);
  test::poison(dw);
  test::poison(db);
  be->linear_backward(x.t(), w.t(), r.t(), dx.t(), dw.t(), db.t());
  auto loss = [&] {
    be->linear_forward(x.t(), w.t(), b.t(), y.t());
    return test::dot(r, y);
  };
  test::expect_gradient("linear dx", x, dx, loss);
  test::expect_gradient("linear dw", w, dw, loss);
  test::expect_gradient("linear db", b, db, loss);
}

void check_softmax_ce(Backend& be, float smoothing) {
  D z(Shape{3, 5}), dz(Shape{3, 5}), loss(Shape{1});
  test::Buffer<int32_t> labels(Shape{3}, {4, 0, 2});
  test::fill_random(z, 81);
  for (size_t i = 0; i < z.size(); ++i)
    z[i] *= 3;
  test::poison(dz);
  be.softmax_cross_entropy(z.t(), labels.t(), smoothing, loss.t(), dz.t());
  test::expect_gradient("softmax_cross_entropy dlogits", z, dz, [&] {
    be.softmax_cross_entropy(z.t(), labels.t(), smoothing, loss.t(), Tensor());
    return loss[0];
  });
}

TEST_F(GradCheck, SoftmaxCrossEntropy) {
  check_softmax_ce(*be, 0.0f);
}
TEST_F(GradCheck, SoftmaxCrossEntropyLabelSmoothing) {
  check_softmax_ce(*be, 0.1f);
}

// A composite: conv -> batch norm -> add_relu with the input (a residual block without its
// second conv), differentiated end to end through the backward ops chained as a layer would.
TEST_F(GradCheck, ResidualComposite) {
  const Shape s{3, 3, 7, 5}, c{3};
  const Conv2dParams p = conv(1, 1);
  D x(s), w(Shape{3, 3, 3, 3}), gamma(c), beta(c), rm(c), rv(c), r(s);
  D h(s), bn(s), y(s), sm(c), si(c);
  test::fill_random(x, 91);
  test::fill_random(w, 92);
  test::fill_random(gamma, 93, 0.5);
  test::fill_random(beta, 94);
  test::fill_random(r, 95);
  auto loss = [&] {
    be->conv2d_forward(p, x.t(), w.t(), h.t());
    be->batch_norm_forward_training(BatchNormParams{}, h.t(), gamma.t(), beta.t(), rm.t(), rv.t(),
                                    bn.t(), sm.t(), si.t());
    be->add_relu_forward(bn.t(), x.t(), y.t());
    return test::dot(r, y);
  };
  loss();
  D dsum(s), dh(s), dx(s), dw(Shape{3, 3, 3, 3}), dgamma(c), dbeta(c);
  be->add_relu_backward(y.t(), r.t(), dsum.t());
  be->batch_norm_backward(BatchNormParams{}, h.t(), dsum.t(), gamma.t(), sm.t(), si.t(), dh.t(), dgamma.t(),
                          dbeta.t());
  be->conv2d_backward_filter(p, x.t(), dh.t(), dw.t());
  be->conv2d_backward_data(p, dh.t(), w.t(), dx.t());
  be->add_(dx.t(), dsum.t());
  test::expect_gradient("residual dx", x, dx, loss, 1e-6, 1e-6);
  test::expect_gradient("residual dw", w, dw, loss, 1e-6, 1e-6);
  test::expect_gradient("residual dgamma", gamma, dgamma, loss, 1e-6, 1e-6);
}

}  // namespace
}  // namespace scenecam
