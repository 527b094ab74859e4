// CUDA backend against the CPU reference: every op on random inputs, with sizes that are not
// multiples of the block size (256) and batch 1, outputs poisoned with NaN before each run.
// Tolerances (relative to max(1, |reference|)) are stated per op: IEEE float32 products (TF32 off)
// differ from the CPU's only in summation order; the production path (TF32 convolutions and dense
// layer, as PyTorch's cuDNN default) gets a TF32 tolerance. The custom kernels run through the
// shared case table (bench/kernel_cases.hpp), with flat sizes past the grid cap so grid-stride
// loops iterate. Every test skips with one line when this machine has no usable CUDA device.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "internal/measurement.hpp"
#include "kernel_cases.hpp"
#include "model_step.hpp"
#include "scenecam/config.hpp"
#include "scenecam/cuda_backend.hpp"
#include "scenecam/image_folder.hpp"
#include "scenecam/safetensors.hpp"
#include "scenecam/trainer.hpp"
#include "input_pipeline.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

using test::conv;
using test::F;

class CudaParity : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> cpu = make_cpu_backend(2);
  std::unique_ptr<Backend> gpu;       // IEEE float32 products: TF32 off
  std::unique_ptr<Backend> gpu_tf32;  // the production default
  std::vector<std::unique_ptr<Pool>> pools;

  void SetUp() override {
    std::string why;
    if (!cuda_available(&why)) GTEST_SKIP() << "CUDA parity skipped: " << why;
    CudaOptions o;
    o.allow_tf32 = false;
    gpu = make_cuda_backend(o);
    o.allow_tf32 = true;
    gpu_tf32 = make_cuda_backend(o);
  }

  // A device copy of a host buffer (its own pool, so nothing is shared between tensors).
  Tensor upload(const Tensor& host) {
    pools.push_back(gpu->make_pool("test", host.nbytes() + 256, false));
    Tensor t = pools.back()->take(host.shape(), host.dtype(), "test tensor");
    gpu->copy(host, t);
    return t;
  }
  // A device tensor of the same shape filled with NaN.
  Tensor poisoned(const Shape& shape) {
    pools.push_back(gpu->make_pool("test", size_t(shape.numel()) * 4 + 256, false));
    Tensor t = pools.back()->take(shape, DType::f32, "output");
    gpu->fill(t, std::nan(""));
    gpu->synchronize();  // the other backend's stream may write it next
    return t;
  }
  std::vector<float> download(const Tensor& t) {
    std::vector<float> out(t.numel());
    gpu->copy(t, Tensor(out.data(), t.shape(), DType::f32, Device::cpu()));
    return out;
  }
  // |gpu - cpu| <= tol * max(1, |cpu|), plus, for TF32 products, kTf32Unit times the element's
  // sum of |a| |b| over its products (the same op on the inputs' absolute values).
  void expect_close(const char* what, const std::vector<float>& ref, const Tensor& got, double tol,
                    const std::vector<float>* magnitude = nullptr) {
    const std::vector<float> g = download(got);
    ASSERT_EQ(g.size(), ref.size()) << what;
    int reported = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      const double allowed = tol * std::max(1.0, std::abs(double(ref[i]))) +
                             (magnitude ? kTf32Unit * (*magnitude)[i] : 0.0);
      if (!(std::abs(double(g[i]) - ref[i]) <= allowed) && reported++ < 5)
        ADD_FAILURE() << what << "[" << i << "]: gpu " << g[i] << " cpu " << ref[i] << " (allowed "
                      << allowed << ")";
    }
  }

  // TF32 keeps 10 of float32's 23 mantissa bits, so each operand of a product may be off by
  // 2^-10 of itself (truncated) and the product by 2^-9; twice that for the transforms of
  // Winograd and FFT algorithms.
  static constexpr double kTf32Unit = 1.0 / 256;
};

F random(const Shape& s, uint64_t seed, double gap = 0) {
  F b(s);
  test::fill_random(b, seed, gap);
  return b;
}

F absolute(const F& b) {
  F a(b.shape());
  for (size_t i = 0; i < b.size(); ++i)
    a[i] = std::abs(b[i]);
  return a;
}

TEST_F(CudaParity, Conv2dAllPassesIeeeAndTf32) {
  struct Case {
    Shape x, w;
    Conv2dParams p;
  };
  for (const Case& c : {Case{Shape{3, 3, 17, 13}, Shape{5, 3, 3, 3}, conv(1, 1)},
                        Case{Shape{1, 4, 29, 31}, Shape{6, 4, 3, 3}, conv(2, 1)},
                        Case{Shape{2, 3, 37, 37}, Shape{8, 3, 7, 7}, conv(2, 3)},
                        Case{Shape{3, 6, 9, 11}, Shape{4, 6, 1, 1}, conv(2, 0)},
                        Case{Shape{2, 6, 9, 7}, Shape{9, 2, 3, 3}, conv(1, 1, 1, 3)},
                        Case{Shape{2, 5, 19, 17}, Shape{7, 5, 3, 3}, conv(1, 2, 2)}}) {
    SCOPED_TRACE(c.x.str() + " * " + c.w.str());
    const Shape ys = conv2d_output_shape(c.p, c.x, c.w);
    F x = random(c.x, 1), w = random(c.w, 2), dy = random(ys, 3), y(ys), dx(c.x), dw(c.w);
    cpu->conv2d_forward(c.p, x.t(), w.t(), y.t());
    cpu->conv2d_backward_data(c.p, dy.t(), w.t(), dx.t());
    cpu->conv2d_backward_filter(c.p, x.t(), dy.t(), dw.t());
    F ax = absolute(x), aw = absolute(w), ady = absolute(dy), my(ys), mdx(c.x), mdw(c.w);
    cpu->conv2d_forward(c.p, ax.t(), aw.t(), my.t());
    cpu->conv2d_backward_data(c.p, ady.t(), aw.t(), mdx.t());
    cpu->conv2d_backward_filter(c.p, ax.t(), ady.t(), mdw.t());
    const Tensor gx = upload(x.t()), gw = upload(w.t()), gdy = upload(dy.t());
    for (Backend* g : {gpu.get(), gpu_tf32.get()}) {
      const bool tf32 = g == gpu_tf32.get();
      SCOPED_TRACE(tf32 ? "TF32" : "IEEE");
      const Tensor gy = poisoned(ys), gdx = poisoned(c.x), gdw = poisoned(c.w);
      g->conv2d_forward(c.p, gx, gw, gy);
      g->conv2d_backward_data(c.p, gdy, gw, gdx);
      g->conv2d_backward_filter(c.p, gx, gdy, gdw);
      g->synchronize();
      expect_close("conv y", y.values(), gy, 1e-4, tf32 ? &my.values() : nullptr);
      expect_close("conv dx", dx.values(), gdx, 1e-4, tf32 ? &mdx.values() : nullptr);
      expect_close("conv dw", dw.values(), gdw, 1e-4, tf32 ? &mdw.values() : nullptr);
    }
  }
}

TEST_F(CudaParity, BatchNormTrainingInferenceBackward) {
  for (auto [s, eps] : {std::pair{Shape{3, 5, 7, 9}, 1e-5}, std::pair{Shape{1, 3, 17, 15}, 1e-5},
                        std::pair{Shape{7, 11}, 1e-5}, std::pair{Shape{3, 5, 7, 9}, 0.1}}) {
    SCOPED_TRACE(s.str() + " eps " + std::to_string(eps));
    const Shape c{s[1]};
    F x = random(s, 4), gamma = random(c, 5, 0.5), beta = random(c, 6), dy = random(s, 7);
    F rm(c), rv(c), y(s), sm(c), si(c), dx(s), dg(c), db(c), yi(s);
    cpu->fill(rm.t(), 0.1);
    cpu->fill(rv.t(), 0.9);
    const Tensor grm = upload(rm.t()), grv = upload(rv.t());
    BatchNormParams p;
    p.eps = eps;
    cpu->batch_norm_forward_training(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), y.t(), sm.t(),
                                     si.t());
    cpu->batch_norm_backward(p, x.t(), dy.t(), gamma.t(), sm.t(), si.t(), dx.t(), dg.t(), db.t());
    cpu->batch_norm_forward_inference(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), yi.t());
    const Tensor gx = upload(x.t()), gg = upload(gamma.t()), gb = upload(beta.t()),
                 gdy = upload(dy.t());
    const Tensor gy = poisoned(s), gsm = poisoned(c), gsi = poisoned(c), gdx = poisoned(s),
                 gdg = poisoned(c), gdb = poisoned(c), gyi = poisoned(s);
    gpu->batch_norm_forward_training(p, gx, gg, gb, grm, grv, gy, gsm, gsi);
    gpu->batch_norm_backward(p, gx, gdy, gg, gsm, gsi, gdx, gdg, gdb);
    gpu->batch_norm_forward_inference(p, gx, gg, gb, grm, grv, gyi);
    expect_close("bn y", y.values(), gy, 1e-4);
    expect_close("bn save_mean", sm.values(), gsm, 1e-5);
    expect_close("bn save_invstd", si.values(), gsi, 1e-4);
    expect_close("bn running_mean", rm.values(), grm, 1e-5);
    expect_close("bn running_var (unbiased)", rv.values(), grv, 1e-4);
    expect_close("bn dx", dx.values(), gdx, 1e-4);
    expect_close("bn dgamma", dg.values(), gdg, 1e-4);
    expect_close("bn dbeta", db.values(), gdb, 1e-4);
    expect_close("bn inference y", yi.values(), gyi, 1e-4);
    F dxi(s);
    cpu->batch_norm_backward_inference(p, dy.t(), gamma.t(), rv.t(), dxi.t());
    const Tensor gdxi = poisoned(s);
    gpu->batch_norm_backward_inference(p, gdy, gg, grv, gdxi);
    expect_close("bn inference dx", dxi.values(), gdxi, 1e-5);
  }
}

TEST_F(CudaParity, PoolingAndGradCamCore) {
  for (const Shape& s : {Shape{3, 5, 17, 13}, Shape{1, 7, 9, 31}}) {
    SCOPED_TRACE(s.str());
    F x(s);
    test::fill_distinct(x, 11);
    const Pool2dParams p{3, 3, 2, 2, 1, 1};
    const Shape ps = pool2d_output_shape(p, s), gs{s[0], s[1]}, cs{s[0], s[2], s[3]};
    F y(ps), dy = random(ps, 12), dx(s), g(gs), gdx_ref(s), w = random(gs, 13), cam(cs);
    cpu->max_pool2d_forward(p, x.t(), y.t());
    cpu->max_pool2d_backward(p, x.t(), dy.t(), dx.t());
    cpu->global_avg_pool_forward(x.t(), g.t());
    cpu->global_avg_pool_backward(g.t(), gdx_ref.t());
    cpu->cam_weighted_sum_relu(x.t(), w.t(), cam.t());
    const Tensor gx = upload(x.t()), gdy = upload(dy.t()), gw = upload(w.t());
    const Tensor gy = poisoned(ps), gdx = poisoned(s), gg = poisoned(gs), ggdx = poisoned(s),
                 gcam = poisoned(cs), gweights = poisoned(gs);
    gpu->max_pool2d_forward(p, gx, gy);
    gpu->max_pool2d_backward(p, gx, gdy, gdx);
    gpu->global_avg_pool_forward(gx, gg);
    gpu->global_avg_pool_backward(gg, ggdx);
    gpu->cam_weighted_sum_relu(gx, gw, gcam);
    gpu->cam_channel_weights(gx, gweights);
    expect_close("max_pool y", y.values(), gy, 0);
    expect_close("max_pool dx", dx.values(), gdx, 1e-6);
    expect_close("global_avg_pool", g.values(), gg, 1e-6);
    expect_close("global_avg_pool backward", gdx_ref.values(), ggdx, 1e-6);
    expect_close("cam weighted sum", cam.values(), gcam, 1e-5);
    expect_close("cam channel weights", g.values(), gweights, 1e-6);
  }
}

// The benchmark's hooks into the CUDA backend: each library peer computes what the kernel it is
// timed beside computes, time_seconds measures device work, conv_algorithm names cuDNN's choice.
TEST_F(CudaParity, LibraryPeersTimingAndConvAlgorithmNames) {
  const Shape s{3, 5, 7, 9}, gs{3, 5};
  F a = random(s, 21), b = random(s, 22);
  F pooled(gs), dpool(s), relu_y(s), relu_dx(s), sum(s), acc = random(s, 23);
  cpu->add_relu_forward(a.t(), b.t(), relu_y.t());
  cpu->add_relu_backward(a.t(), b.t(), relu_dx.t());
  cpu->global_avg_pool_forward(a.t(), pooled.t());
  cpu->global_avg_pool_backward(pooled.t(), dpool.t());
  cpu->add_(acc.t(), a.t());
  const Tensor ga = upload(a.t()), gb = upload(b.t()), gpooled = upload(pooled.t());
  const Tensor none;
  Tensor out = poisoned(s);
  run_library_peer(*gpu, LibraryPeer::op_tensor_add_relu, ga, gb, out);
  expect_close(library_peer_name(LibraryPeer::op_tensor_add_relu), relu_y.values(), out, 1e-6);
  out = poisoned(s);
  run_library_peer(*gpu, LibraryPeer::activation_backward, ga, gb, out);
  expect_close(library_peer_name(LibraryPeer::activation_backward), relu_dx.values(), out, 0);
  for (LibraryPeer peer : {LibraryPeer::add_tensor, LibraryPeer::axpy}) {
    F start = random(s, 23);
    const Tensor gacc = upload(start.t());
    run_library_peer(*gpu, peer, ga, none, gacc);
    expect_close(library_peer_name(peer), acc.values(), gacc, 1e-6);
  }
  out = poisoned(gs);
  run_library_peer(*gpu, LibraryPeer::avg_pool_forward, ga, none, out);
  expect_close(library_peer_name(LibraryPeer::avg_pool_forward), pooled.values(), out, 1e-6);
  out = poisoned(s);
  run_library_peer(*gpu, LibraryPeer::avg_pool_backward, gpooled, out, out);
  expect_close(library_peer_name(LibraryPeer::avg_pool_backward), dpool.values(), out, 1e-6);
  EXPECT_THROW(run_library_peer(*cpu, LibraryPeer::axpy, a.t(), none, acc.t()), Error);

  const Tensor big = poisoned(Shape{int64_t(1) << 24});
  const double seconds = measurement_of(*gpu).time_seconds([&] { gpu->fill(big, 1.0); });
  EXPECT_GT(seconds, 0.0);
  EXPECT_LT(seconds, 1.0);
  const Conv2dParams p = conv(1, 1);
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    const std::string algo = measurement_of(*gpu).conv_algorithm(p, Shape{2, 8, 15, 15}, Shape{16, 8, 3, 3}, pass);
    EXPECT_FALSE(algo.empty());
    EXPECT_NE(algo.rfind("algo ", 0), 0u) << algo;  // a name from cuDNN's enum, not a number
  }
}

TEST_F(CudaParity, LinearIeeeAndTf32) {
  for (auto [N, in, out] : {std::tuple{int64_t(1), int64_t(7), int64_t(3)},
                            std::tuple{int64_t(37), int64_t(300), int64_t(6)},
                            std::tuple{int64_t(5), int64_t(64), int64_t(1000)}}) {
    SCOPED_TRACE(N);
    F x = random(Shape{N, in}, 14), w = random(Shape{out, in}, 15), b = random(Shape{out}, 16);
    F dy = random(Shape{N, out}, 17), y(Shape{N, out}), dx(Shape{N, in}), dw(Shape{out, in}),
      db(Shape{out});
    cpu->linear_forward(x.t(), w.t(), b.t(), y.t());
    cpu->linear_backward(x.t(), w.t(), dy.t(), dx.t(), dw.t(), db.t());
    F ax = absolute(x), aw = absolute(w), ab = absolute(b), ady = absolute(dy), my(y.shape()),
      mdx(x.shape()), mdw(w.shape()), mdb(b.shape());
    cpu->linear_forward(ax.t(), aw.t(), ab.t(), my.t());
    cpu->linear_backward(ax.t(), aw.t(), ady.t(), mdx.t(), mdw.t(), mdb.t());
    const Tensor gx = upload(x.t()), gw = upload(w.t()), gb = upload(b.t()), gdy = upload(dy.t());
    for (Backend* g : {gpu.get(), gpu_tf32.get()}) {
      const bool tf32 = g == gpu_tf32.get();
      SCOPED_TRACE(tf32 ? "TF32" : "IEEE");
      const Tensor gy = poisoned(y.shape()), gdx = poisoned(x.shape()), gdw = poisoned(w.shape()),
                   gdb = poisoned(b.shape());
      g->linear_forward(gx, gw, gb, gy);
      g->linear_backward(gx, gw, gdy, gdx, gdw, gdb);
      g->synchronize();
      expect_close("linear y", y.values(), gy, 1e-4, tf32 ? &my.values() : nullptr);
      expect_close("linear dx", dx.values(), gdx, 1e-4, tf32 ? &mdx.values() : nullptr);
      expect_close("linear dw", dw.values(), gdw, 1e-4, tf32 ? &mdw.values() : nullptr);
      expect_close("linear db", db.values(), gdb, 1e-5);
    }
  }
}

// Max pooling routes a tied window's gradient to its first maximum in row-major window order
// (PyTorch's rule, and the CPU backend's); cuDNN's deterministic mode must agree.
TEST_F(CudaParity, MaxPoolTiesGoToTheFirstMaximum) {
  const Shape s{2, 3, 9, 11};
  F x(s);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(i % 3 == 0);  // many equal maxima per window, and whole windows of zeros
  for (const Pool2dParams& p : {Pool2dParams{3, 3, 2, 2, 1, 1}, Pool2dParams{2, 2, 2, 2, 0, 0}}) {
    const Shape ps = pool2d_output_shape(p, s);
    F y(ps), dy = random(ps, 31), dx(s);
    cpu->max_pool2d_forward(p, x.t(), y.t());
    cpu->max_pool2d_backward(p, x.t(), dy.t(), dx.t());
    const Tensor gx = upload(x.t()), gdy = upload(dy.t()), gy = poisoned(ps), gdx = poisoned(s);
    gpu->max_pool2d_forward(p, gx, gy);
    gpu->max_pool2d_backward(p, gx, gdy, gdx);
    expect_close("max_pool y (ties)", y.values(), gy, 0);
    expect_close("max_pool dx (ties: first maximum)", dx.values(), gdx, 1e-6);
  }
}

TEST_F(CudaParity, DeviceToDeviceCopy) {
  const Shape s{3, 1000003};
  F a = random(s, 32);
  const Tensor ga = upload(a.t()), gb = poisoned(s);
  gpu->copy(ga, gb);
  expect_close("device-to-device copy", a.values(), gb, 0);
}

// The device cannot tell the host about a bad label without a sync, so the loss becomes NaN.
TEST_F(CudaParity, OutOfRangeLabelMakesTheLossNaN) {
  F logits = random(Shape{3, 7}, 33);
  test::Buffer<int32_t> labels(Shape{3}, {2, 7, -1});
  pools.push_back(gpu->make_pool("labels", 256, false));
  const Tensor glabels = pools.back()->take(Shape{3}, DType::i32, "labels");
  gpu->copy(labels.t(), glabels);
  const Tensor loss = poisoned(Shape{1}), dlogits = poisoned(Shape{3, 7});
  gpu->fill(loss, 0.0);
  gpu->softmax_cross_entropy(upload(logits.t()), glabels, 0.0f, loss, dlogits);
  EXPECT_TRUE(std::isnan(download(loss)[0]));
  const std::vector<float> d = download(dlogits);
  for (int k = 0; k < 7; ++k) {
    EXPECT_TRUE(std::isfinite(d[k])) << "row 0 (label 2), class " << k;
    EXPECT_TRUE(std::isnan(d[7 + k]) && std::isnan(d[14 + k])) << "rows 1, 2, class " << k;
  }
}

// The input pipeline on the GPU (tests/input_pipeline.hpp): staged with asynchronous uploads, and
// resident with the transforms drawn by a kernel, equal to the CPU's staged batches.
TEST_F(CudaParity, StagedAndResidentBatchesEqualTheCpusStagedOnes) {
  test::expect_batches_equal_the_cpus(*gpu);
}

TEST_F(CudaParity, WrongDeviceAndDTypeAreRefused) {
  F host(Shape{4});
  const Tensor on_gpu = poisoned(Shape{4});
  test::expect_error([&] { gpu->relu_forward(host.t(), on_gpu); },
                     {"relu_forward", "'x'", "cpu", "cuda:0"});
  test::D wide(Shape{4});
  test::expect_error([&] { gpu->relu_forward(upload(wide.t()), on_gpu); }, {"relu_forward", "f64"});
}

// A ResNet trained a few steps on the GPU: the loss falls, and after the first step neither the
// activation arena nor the workspace reaches cudaMalloc again.
TEST_F(CudaParity, ResidualNetworkTrainsWithoutAllocatingAfterStepOne) {
  ResNetSpec spec = test::tiny_spec();
  ResNet model(spec);
  model.materialize(*gpu, 5);
  auto arena = gpu->make_pool("step", 0, true);
  F images = random(Shape{8, 3, 16, 16}, 20);
  test::Buffer<int32_t> labels(Shape{8}, {0, 1, 2, 3, 0, 1, 2, 3});
  const Tensor gimages = upload(images.t());
  pools.push_back(gpu->make_pool("labels", 256, false));
  const Tensor glabels = pools.back()->take(Shape{8}, DType::i32, "labels");
  gpu->copy(labels.t(), glabels);
  const Tensor momentum = poisoned(model.params().values().shape()), loss = poisoned(Shape{1});
  gpu->fill(momentum, 0);
  SgdParams sgd;
  sgd.lr = 0.05f;
  auto step = [&] {
    StepContext ctx{*gpu, *arena, true};
    const Tensor logits = model.forward(ctx, gimages);
    const Tensor dlogits = arena->take(logits.shape(), DType::f32, "dlogits");
    gpu->softmax_cross_entropy(logits, glabels, 0.0f, loss, dlogits);
    model.backward(ctx, dlogits);
    gpu->sgd_update(sgd, model.params().values(), model.params().grads(), momentum);
    arena->reset();
    return download(loss)[0];
  };
  const float first = step();
  const size_t arena_allocs = arena->stats().allocations,
               ws_allocs = gpu->workspace_stats().allocations;
  float last = first;
  for (int i = 0; i < 40; ++i)
    last = step();
  EXPECT_LT(last, 0.5f * first) << "first " << first << " last " << last;
  EXPECT_EQ(arena->stats().allocations, arena_allocs);
  EXPECT_EQ(gpu->workspace_stats().allocations, ws_allocs);
}

// runtime.cuda_graphs: the training step recorded as a CUDA graph and replayed trains as the steps
// run op by op on the same backend (so with the same convolution algorithms), while the learning
// rate changes every step (warm-up, then cosine): the same weights to float rounding.
TEST_F(CudaParity, RecordedTrainingStepsReplayAsTheStepsRunOpByOp) {
  const char* blocking = std::getenv("CUDA_LAUNCH_BLOCKING");
  if (blocking && std::string(blocking) == "1")
    GTEST_SKIP() << "recorded steps are checked without CUDA_LAUNCH_BLOCKING=1 (stream capture "
                    "and blocking launches do not mix)";
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("scenecam_graphs_" + std::to_string(::getpid()));
  const std::string yaml = R"(model: {arch: resnet18, classes: 6, width: 8, blocks: [1, 1, 1, 1], stem: small}
data: {source: synthetic, image_size: 24, synthetic_train: 512, synthetic_val: 64}
train:
  epochs: 2
  batch_size: 32
  log_every: 4
  optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}
  schedule: {name: cosine, warmup_epochs: 0.5}
runtime: {device: "cuda", seed: 3}
)";
  TrainResult result[2];
  for (int graphs = 0; graphs < 2; ++graphs) {
    const RunConfig c = parse_config(
        yaml, "graphs.yaml",
        {"output.dir=" + (root / std::to_string(graphs)).string(),
         std::string("runtime.cuda_graphs=") + (graphs ? "true" : "false")});
    Split split;
    const Dataset data = load_training_data(c, &split);
    TrainOptions o;
    o.config_yaml = config_to_yaml(c);
    result[graphs] = train(c, data, split, *gpu, o);
  }
  EXPECT_EQ(result[0].replayed_steps, 0);
  // Op by op until the pools settle (two steps where nothing else allocates), then replayed.
  EXPECT_GE(result[1].replayed_steps, result[1].global_step - 4);
  EXPECT_GT(result[1].replayed_steps, 0);
  EXPECT_NEAR(result[1].val_loss, result[0].val_loss, 1e-4 * (1 + std::abs(result[0].val_loss)));
  const SafetensorsFile eager((root / "0" / "last.safetensors").string()),
      replayed((root / "1" / "last.safetensors").string());
  ASSERT_EQ(eager.names(), replayed.names());
  for (const std::string& name : eager.names()) {
    const Shape shape = eager.shape(name);
    F a(shape), b(shape);
    eager.read_into(name, a.t(), *cpu);
    replayed.read_into(name, b.t(), *cpu);
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], 1e-4 * (1 + std::abs(a[i]))) << name << " element " << i;
  }
  fs::remove_all(root);
}

// ---- the custom kernels: every case of the shared table, with its library peer where it has one

// SCENECAM_PARITY_SMALL=1 (the GPU check's memcheck step, where kernels run 10-100x slower)
// takes the emulated tests' sizes instead.
std::vector<bench::Case> kernel_table() {
  const bool small = std::getenv("SCENECAM_PARITY_SMALL") != nullptr;
  // 2^24 + 2^20 + 3 elements: the scalar grid-stride loops take two strides of the largest grid;
  // the float4 loops need four times that, so one element-wise case runs at 2^26 + 2^20 + 3.
  const int64_t flat = small ? 7 * 256 * 4 * 2 + 13 : (int64_t(1) << 24) + (1 << 20) + 3;
  std::vector<bench::Case> all = bench::odd_size_cases(flat);
  if (!small)
    for (bench::Case& c : bench::odd_size_cases((int64_t(1) << 26) + (1 << 20) + 3))
      if (c.kernel == "add_relu forward") all.push_back(std::move(c));
  for (auto [input, batch] : small ? std::vector<std::pair<int, int>>{{33, 3}, {65, 2}}
                                   : std::vector<std::pair<int, int>>{{65, 3}, {224, 32}})
    for (bench::Case& c : bench::step_cases(input, batch))
      all.push_back(std::move(c));
  for (bench::Case& c : bench::optimizer_cases(small ? 100003 : 11689512))
    all.push_back(std::move(c));
  return all;
}

class CudaKernelCase : public ::testing::TestWithParam<bench::Case> {};

TEST_P(CudaKernelCase, MatchesTheCpuBackend) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA parity skipped: " << why;
  // One pair of backends for the whole table: handles and streams are made once.
  static const std::unique_ptr<Backend> gpu = [] {
    CudaOptions ieee;
    ieee.allow_tf32 = false;  // the dense layer's case compares at float32 tolerance
    return make_cuda_backend(ieee);
  }();
  static const std::unique_ptr<Backend> cpu = make_cpu_backend(0);
  try {
    bench::validate(*gpu, *cpu, GetParam(), run_library_peer);
  } catch (const Error& e) {
    FAIL() << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, CudaKernelCase, ::testing::ValuesIn(kernel_table()),
                         [](const auto& info) { return info.param.identifier(info.index); });

}  // namespace
}  // namespace scenecam
