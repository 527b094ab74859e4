// Optimizer updates against values worked by hand (torch.optim.SGD / AdamW semantics), over
// flat arenas whose length is not a multiple of any vector width.
#include "scenecam/backend.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

using test::F;

class Optimizers : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> be = make_cpu_backend(2);
  // 37 copies of the same scalar problem: every element must follow the same arithmetic.
  static constexpr int kN = 37;
  F p{Shape{kN}}, g{Shape{kN}}, buf{Shape{kN}}, m{Shape{kN}}, v{Shape{kN}};
  void SetUp() override {
    be->fill(p.t(), 1.0);
    be->fill(g.t(), 0.5);
    be->fill(buf.t(), 0.0);
    be->fill(m.t(), 0.0);
    be->fill(v.t(), 0.0);
  }
  void expect_all(const F& t, double value, const char* what) {
    for (int i = 0; i < kN; ++i)
      ASSERT_NEAR(t[i], value, 1e-6) << what << " element " << i;
  }
};

TEST_F(Optimizers, PlainSgd) {
  SgdParams s;
  s.lr = 0.1f;
  s.momentum = 0.0f;
  be->sgd_update(s, p.t(), g.t(), Tensor());
  expect_all(p, 0.95, "p");
}

TEST_F(Optimizers, SgdMomentumWithL2WeightDecay) {
  SgdParams s;
  s.lr = 0.1f;
  s.momentum = 0.9f;
  s.weight_decay = 0.01f;
  // step 1: g' = 0.5 + 0.01 * 1 = 0.51, buf = 0.51, p = 1 - 0.051
  be->sgd_update(s, p.t(), g.t(), buf.t());
  expect_all(buf, 0.51, "buf");
  expect_all(p, 0.949, "p");
  // step 2: g' = 0.5 + 0.00949, buf = 0.9 * 0.51 + 0.50949 = 0.96849, p = 0.949 - 0.096849
  be->sgd_update(s, p.t(), g.t(), buf.t());
  expect_all(buf, 0.96849, "buf");
  expect_all(p, 0.852151, "p");
}

TEST_F(Optimizers, SgdNesterov) {
  SgdParams s;
  s.lr = 0.1f;
  s.momentum = 0.9f;
  s.weight_decay = 0.01f;
  s.nesterov = true;
  // g' = 0.51, buf = 0.51, step direction = g' + 0.9 * buf = 0.969
  be->sgd_update(s, p.t(), g.t(), buf.t());
  expect_all(p, 1 - 0.0969, "p");
}

TEST_F(Optimizers, SgdDecoupledWeightDecay) {
  SgdParams s;
  s.lr = 0.1f;
  s.momentum = 0.9f;
  s.weight_decay = 0.01f;
  s.decoupled_weight_decay = true;
  // step 1: p = 1 * (1 - 0.001) - 0.1 * 0.5; step 2: p = 0.949 * 0.999 - 0.1 * (0.45 + 0.5)
  be->sgd_update(s, p.t(), g.t(), buf.t());
  expect_all(p, 0.949, "p");
  expect_all(buf, 0.5, "buf");
  be->sgd_update(s, p.t(), g.t(), buf.t());
  expect_all(p, 0.853051, "p");
}

TEST_F(Optimizers, AdamW) {
  AdamWParams a;
  a.lr = 0.1f;
  a.weight_decay = 0.01f;
  // step 1: p = 0.999, m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25, p -= 0.1 * 0.5 / 0.5
  be->adamw_update(a, 1, p.t(), g.t(), m.t(), v.t());
  expect_all(m, 0.05, "m");
  expect_all(v, 0.00025, "v");
  expect_all(p, 0.899, "p");
  // step 2 with g = -0.25: m = 0.02, v = 0.00031225, bias corrections 0.19 and 0.001999.
  be->fill(g.t(), -0.25);
  be->adamw_update(a, 2, p.t(), g.t(), m.t(), v.t());
  expect_all(m, 0.02, "m");
  expect_all(v, 0.00031225, "v");
  expect_all(p, 0.8714672967, "p");
}

TEST_F(Optimizers, AdamWStepMustStartAtOne) {
  test::expect_error([&] { be->adamw_update(AdamWParams{}, 0, p.t(), g.t(), m.t(), v.t()); },
                     {"adamw_update", "step 0"});
}

TEST_F(Optimizers, ElementwiseMathIsSharedWithTheKernels) {
  // The per-element functions the CUDA kernels call give the same step as the backend.
  float w = 1.0f, mom = 0.0f;
  sgd_update_element(w, 0.5f, mom, SgdStep{0.1f, 0.9f, 0.01f, false, false});
  EXPECT_NEAR(w, 0.949f, 1e-7);
  double x = 1.0, mm = 0.0, vv = 0.0;
  adamw_update_element(x, 0.5, mm, vv, AdamWStep{0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f, 0.001f});
  EXPECT_NEAR(x, 0.899, 1e-5);  // the float bias correction 1 - 0.999 is slightly off
}

// The updates that read their step from device memory (as a recorded step does) move the
// parameters and state exactly as the ones given the step by value, and read it afresh each call.
TEST_F(Optimizers, StepsReadFromMemoryEqualStepsPassedByValue) {
  F p2{Shape{kN}}, buf2{Shape{kN}}, m2{Shape{kN}}, v2{Shape{kN}}, fields{Shape{kAdamWStepFields}};
  be->copy(p.t(), p2.t());  // the state buffers start at zero, as buf, m and v
  SgdParams s{0.1f, 0.9f, 0.01f, true, false};
  for (float lr : {0.1f, 0.05f}) {  // a new learning rate in the same memory
    s.lr = lr;
    be->sgd_update(s, p.t(), g.t(), buf.t());
    sgd_step_to_fields(sgd_step(s), fields.values().data());
    be->sgd_update_from(fields.t().slice_flat(0, kSgdStepFields), p2.t(), g.t(), buf2.t());
  }
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(p[i], p2[i]) << "element " << i;
    ASSERT_EQ(buf[i], buf2[i]) << "element " << i;
  }
  AdamWParams a;
  a.weight_decay = 0.01f;
  for (int64_t step : {1, 2, 3}) {
    a.lr = 0.1f / float(step);
    be->adamw_update(a, step, p.t(), g.t(), m.t(), v.t());
    adamw_step_to_fields(adamw_step(a, step), fields.values().data());
    be->adamw_update_from(fields.t(), p2.t(), g.t(), m2.t(), v2.t());
  }
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(p[i], p2[i]) << "element " << i;
    ASSERT_EQ(m[i], m2[i]) << "element " << i;
    ASSERT_EQ(v[i], v2[i]) << "element " << i;
  }
  EXPECT_LT(p[0], 0.9);  // the steps moved the parameters
}

TEST_F(Optimizers, AStepOfTheWrongLengthIsRefused) {
  F fields{Shape{kAdamWStepFields}};
  test::expect_error([&] { be->sgd_update_from(fields.t(), p.t(), g.t(), buf.t()); },
                     {"sgd_update_from", "step", "[7]", "[5]"});
}

}  // namespace
}  // namespace scenecam
