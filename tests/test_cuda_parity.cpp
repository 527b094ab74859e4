// CUDA backend against the CPU reference: every op on random inputs, with sizes that are not
// multiples of the block size (256) and batch 1, outputs poisoned with NaN before each run.
// Tolerances (relative to max(1, |reference|)) are stated per op: IEEE float32 products (TF32 off)
// differ from the CPU's only in summation order. Every test skips with one line when this machine
// has no usable CUDA device.
#include <cmath>
#include <random>

#include "model_step.hpp"
#include "scenecam/cuda_backend.hpp"
#include "test_util.hpp"

namespace scenecam {
namespace {

using test::conv;
using test::F;

class CudaParity : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> cpu = make_cpu_backend(2);
  std::unique_ptr<Backend> gpu;
  std::vector<std::unique_ptr<Pool>> pools;

  void SetUp() override {
    std::string why;
    if (!cuda_available(&why)) GTEST_SKIP() << "CUDA parity skipped: " << why;
    CudaOptions o;
    o.allow_tf32 = false;
    gpu = make_cuda_backend(o);
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
    return t;
  }
  std::vector<float> download(const Tensor& t) {
    std::vector<float> out(t.numel());
    gpu->copy(t, Tensor(out.data(), t.shape(), DType::f32, Device::cpu()));
    return out;
  }
  void expect_close(const char* what, const std::vector<float>& ref, const Tensor& got,
                    double tol) {
    const std::vector<float> g = download(got);
    ASSERT_EQ(g.size(), ref.size()) << what;
    int reported = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      const double scale = std::max(1.0, std::abs(double(ref[i])));
      if (!(std::abs(double(g[i]) - ref[i]) <= tol * scale) && reported++ < 5)
        ADD_FAILURE() << what << "[" << i << "]: gpu " << g[i] << " cpu " << ref[i];
    }
  }
};

F random(const Shape& s, uint64_t seed, double gap = 0) {
  F b(s);
  test::fill_random(b, seed, gap);
  return b;
}

TEST_F(CudaParity, Conv2dAllPasses) {
  struct Case {
    Shape x, w;
    Conv2dParams p;
  };
  for (const Case& c : {Case{Shape{3, 3, 17, 13}, Shape{5, 3, 3, 3}, conv(1, 1)},
                        Case{Shape{1, 4, 29, 31}, Shape{6, 4, 3, 3}, conv(2, 1)},
                        Case{Shape{2, 3, 37, 37}, Shape{8, 3, 7, 7}, conv(2, 3)},
                        Case{Shape{3, 6, 9, 11}, Shape{4, 6, 1, 1}, conv(2, 0)},
                        Case{Shape{2, 6, 9, 7}, Shape{9, 2, 3, 3}, conv(1, 1, 1, 3)}}) {
    SCOPED_TRACE(c.x.str() + " * " + c.w.str());
    const Shape ys = conv2d_output_shape(c.p, c.x, c.w);
    F x = random(c.x, 1), w = random(c.w, 2), dy = random(ys, 3), y(ys), dx(c.x), dw(c.w);
    cpu->conv2d_forward(c.p, x.t(), w.t(), y.t());
    cpu->conv2d_backward_data(c.p, dy.t(), w.t(), dx.t());
    cpu->conv2d_backward_filter(c.p, x.t(), dy.t(), dw.t());
    const Tensor gx = upload(x.t()), gw = upload(w.t()), gdy = upload(dy.t());
    const Tensor gy = poisoned(ys), gdx = poisoned(c.x), gdw = poisoned(c.w);
    gpu->conv2d_forward(c.p, gx, gw, gy);
    gpu->conv2d_backward_data(c.p, gdy, gw, gdx);
    gpu->conv2d_backward_filter(c.p, gx, gdy, gdw);
    expect_close("conv y", y.values(), gy, 1e-4);
    expect_close("conv dx", dx.values(), gdx, 1e-4);
    expect_close("conv dw", dw.values(), gdw, 1e-4);
  }
}

TEST_F(CudaParity, BatchNormTrainingInferenceBackward) {
  for (const Shape& s : {Shape{3, 5, 7, 9}, Shape{1, 3, 17, 15}, Shape{7, 11}}) {
    SCOPED_TRACE(s.str());
    const Shape c{s[1]};
    F x = random(s, 4), gamma = random(c, 5, 0.5), beta = random(c, 6), dy = random(s, 7);
    F rm(c), rv(c), y(s), sm(c), si(c), dx(s), dg(c), db(c), yi(s);
    cpu->fill(rm.t(), 0.1);
    cpu->fill(rv.t(), 0.9);
    const Tensor grm = upload(rm.t()), grv = upload(rv.t());
    BatchNormParams p;
    cpu->batch_norm_forward_training(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), y.t(), sm.t(),
                                     si.t());
    cpu->batch_norm_backward(x.t(), dy.t(), gamma.t(), sm.t(), si.t(), dx.t(), dg.t(), db.t());
    cpu->batch_norm_forward_inference(p, x.t(), gamma.t(), beta.t(), rm.t(), rv.t(), yi.t());
    const Tensor gx = upload(x.t()), gg = upload(gamma.t()), gb = upload(beta.t()),
                 gdy = upload(dy.t());
    const Tensor gy = poisoned(s), gsm = poisoned(c), gsi = poisoned(c), gdx = poisoned(s),
                 gdg = poisoned(c), gdb = poisoned(c), gyi = poisoned(s);
    gpu->batch_norm_forward_training(p, gx, gg, gb, grm, grv, gy, gsm, gsi);
    gpu->batch_norm_backward(gx, gdy, gg, gsm, gsi, gdx, gdg, gdb);
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

TEST_F(CudaParity, ElementwiseOpsAtOddSizes) {
  for (int64_t n : {int64_t(1), int64_t(255), int64_t(257), int64_t(1000003)}) {
    SCOPED_TRACE(n);
    const Shape s{n};
    F a = random(s, 8, 0.01), b = random(s, 9), y(s), ds(s), acc = random(s, 10);
    cpu->relu_forward(a.t(), y.t());
    const Tensor ga = upload(a.t()), gb = upload(b.t()), gy = poisoned(s);
    gpu->relu_forward(ga, gy);
    expect_close("relu", y.values(), gy, 0);
    const Tensor gdx = poisoned(s);
    cpu->relu_backward(y.t(), b.t(), ds.t());
    gpu->relu_backward(gy, gb, gdx);
    expect_close("relu backward", ds.values(), gdx, 0);
    cpu->add_relu_forward(a.t(), b.t(), y.t());
    gpu->add_relu_forward(ga, gb, gy);
    expect_close("add_relu", y.values(), gy, 1e-7);
    cpu->add_relu_backward(y.t(), a.t(), ds.t());
    gpu->add_relu_backward(gy, ga, gdx);
    expect_close("add_relu backward", ds.values(), gdx, 0);
    const Tensor gacc = upload(acc.t());
    cpu->add_(acc.t(), b.t());
    gpu->add_(gacc, gb);
    expect_close("add_", acc.values(), gacc, 1e-7);
    // Misaligned views take the scalar path.
    if (n > 2) {
      const Tensor va = ga.slice_flat(1, n), vy = gy.slice_flat(1, n);
      gpu->relu_forward(va, vy);
      std::vector<float> expect(a.values().begin() + 1, a.values().end());
      for (float& v : expect)
        v = v < 0 ? 0 : v;
      expect_close("relu (unaligned)", expect, vy, 0);
    }
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
  const double seconds = gpu->time_seconds([&] { gpu->fill(big, 1.0); });
  EXPECT_GT(seconds, 0.0);
  EXPECT_LT(seconds, 1.0);
  const Conv2dParams p = conv(1, 1);
  for (int pass = 0; pass < 3; ++pass) {
    const std::string algo = gpu->conv_algorithm(p, Shape{2, 8, 15, 15}, Shape{16, 8, 3, 3}, pass);
    EXPECT_FALSE(algo.empty());
    EXPECT_NE(algo.rfind("algo ", 0), 0u) << algo;  // a name from cuDNN's enum, not a number
  }
}

TEST_F(CudaParity, LinearAndSoftmaxCrossEntropy) {
  for (auto [N, in, out] : {std::tuple{int64_t(1), int64_t(7), int64_t(3)},
                            std::tuple{int64_t(37), int64_t(300), int64_t(6)},
                            std::tuple{int64_t(5), int64_t(64), int64_t(1000)}}) {
    SCOPED_TRACE(N);
    F x = random(Shape{N, in}, 14), w = random(Shape{out, in}, 15), b = random(Shape{out}, 16);
    F dy = random(Shape{N, out}, 17), y(Shape{N, out}), dx(Shape{N, in}), dw(Shape{out, in}),
      db(Shape{out});
    cpu->linear_forward(x.t(), w.t(), b.t(), y.t());
    cpu->linear_backward(x.t(), w.t(), dy.t(), dx.t(), dw.t(), db.t());
    const Tensor gx = upload(x.t()), gw = upload(w.t()), gb = upload(b.t()), gdy = upload(dy.t());
    const Tensor gy = poisoned(y.shape()), gdx = poisoned(x.shape()), gdw = poisoned(w.shape()),
                 gdb = poisoned(b.shape());
    gpu->linear_forward(gx, gw, gb, gy);
    gpu->linear_backward(gx, gw, gdy, gdx, gdw, gdb);
    expect_close("linear y", y.values(), gy, 1e-4);
    expect_close("linear dx", dx.values(), gdx, 1e-4);
    expect_close("linear dw", dw.values(), gdw, 1e-4);
    expect_close("linear db", db.values(), gdb, 1e-5);

    test::Buffer<int32_t> labels(Shape{N});
    for (int64_t n = 0; n < N; ++n)
      labels[n] = static_cast<int32_t>((n * 7) % out);
    for (float smoothing : {0.0f, 0.1f}) {
      F loss(Shape{1}), dz(Shape{N, out});
      cpu->softmax_cross_entropy(y.t(), labels.t(), smoothing, loss.t(), dz.t());
      const Tensor glabels = [&] {
        pools.push_back(gpu->make_pool("labels", size_t(N) * 4 + 256, false));
        Tensor t = pools.back()->take(Shape{N}, DType::i32, "labels");
        gpu->copy(labels.t(), t);
        return t;
      }();
      const Tensor gloss = poisoned(Shape{1}), gdz = poisoned(dz.shape());
      gpu->softmax_cross_entropy(gy, glabels, smoothing, gloss, gdz);
      expect_close("softmax_ce loss", loss.values(), gloss, 1e-5);
      expect_close("softmax_ce dlogits", dz.values(), gdz, 1e-6);
    }
  }
}

TEST_F(CudaParity, OptimizersOverAnOddArena) {
  const Shape s{100003};
  F p = random(s, 18), g = random(s, 19), m(s), v(s), buf(s);
  cpu->fill(m.t(), 0);
  cpu->fill(v.t(), 0);
  cpu->fill(buf.t(), 0);
  const Tensor gp = upload(p.t()), gg = upload(g.t()), gm = upload(m.t()), gv = upload(v.t()),
               gbuf = upload(buf.t());
  SgdParams sgd;
  sgd.nesterov = true;
  sgd.weight_decay = 1e-3f;
  AdamWParams adam;
  for (int step = 1; step <= 3; ++step) {
    cpu->sgd_update(sgd, p.t(), g.t(), buf.t());
    gpu->sgd_update(sgd, gp, gg, gbuf);
    cpu->adamw_update(adam, step, p.t(), g.t(), m.t(), v.t());
    gpu->adamw_update(adam, step, gp, gg, gm, gv);
  }
  expect_close("params", p.values(), gp, 1e-6);
  expect_close("momentum", buf.values(), gbuf, 1e-6);
  expect_close("adam m", m.values(), gm, 1e-6);
  expect_close("adam v", v.values(), gv, 1e-6);
}

TEST_F(CudaParity, AugmentBatch) {
  // 5 images of 37x37 (not a multiple of anything), with identity, padded, resized and flipped
  // transforms.
  const int64_t N = 5, S = 37;
  test::Buffer<uint8_t> px(Shape{N, S, S, 3});
  std::mt19937 rng(21);
  for (size_t i = 0; i < px.size(); ++i)
    px[i] = static_cast<uint8_t>(rng() % 256);
  test::F tf(Shape{N, kTransformFields}, {0,    0, 1, 1, 0, 0,    -4,   3, 1, 1,  1,  0, 2, 5, 0.6f,
                                          0.8f, 0, 1, 0, 0, 0.5f, 0.5f, 1, 1, 10, -7, 1, 1, 0, 0});
  F out(Shape{N, 3, S, S});
  cpu->augment_batch(px.t(), tf.t(), Normalization{}, out.t());
  pools.push_back(gpu->make_pool("pixels", px.size() + 256, false));
  const Tensor gpx = pools.back()->take(px.shape(), DType::u8, "pixels");
  gpu->copy(px.t(), gpx);
  const Tensor gtf = upload(tf.t()), gout = poisoned(out.shape());
  gpu->augment_batch(gpx, gtf, Normalization{}, gout);
  expect_close("augment_batch", out.values(), gout, 1e-5);
}

TEST_F(CudaParity, CamScale) {
  // 3 maps of 7x5 scaled to 37x29 (sizes that share no factor with the block size).
  F cam = random(Shape{3, 7, 5}, 22), out(Shape{3, 37, 29}), scratch(Shape{3 * 7 * 5});
  for (size_t i = 0; i < cam.size(); ++i)
    cam[i] = std::max(cam[i], 0.0f);
  cpu->cam_scale(cam.t(), scratch.t(), out.t());
  const Tensor gcam = upload(cam.t()), gscratch = poisoned(scratch.shape()),
               gout = poisoned(out.shape());
  gpu->cam_scale(gcam, gscratch, gout);
  expect_close("cam_scale", out.values(), gout, 1e-5);
}

TEST_F(CudaParity, CamMapsEveryGradientMethod) {
  const Shape s{3, 37, 5, 7};  // 37 channels: planes do not fill whole blocks
  F acts = random(s, 23), grads = random(s, 24);
  for (size_t i = 0; i < acts.size(); ++i)
    acts[i] = std::abs(acts[i]);
  const Tensor gacts = upload(acts.t()), ggrads = upload(grads.t());
  for (int method = 0; method <= 4; ++method) {
    SCOPED_TRACE(method);
    F weights(Shape{3 * 37}), cam(Shape{3, 5, 7});
    cpu->cam_maps(method, acts.t(), grads.t(), weights.t(), cam.t());
    const Tensor gweights = poisoned(weights.shape()), gcam = poisoned(cam.shape());
    gpu->cam_maps(method, gacts, ggrads, gweights, gcam);
    expect_close("cam_maps", cam.values(), gcam, 1e-4);
  }
}

TEST_F(CudaParity, CamOverlay) {
  const int64_t N = 3, S = 29;
  F maps(Shape{N, S, S}), scratch(Shape{N});
  std::mt19937 rng(25);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (size_t i = 0; i < maps.size(); ++i)
    maps[i] = unit(rng);
  test::Buffer<uint8_t> img(Shape{N, S, S, 3}), lut(Shape{256, 3}), out(Shape{N, S, S, 3});
  for (size_t i = 0; i < img.size(); ++i)
    img[i] = uint8_t(rng() % 256);
  for (size_t i = 0; i < lut.size(); ++i)
    lut[i] = uint8_t(rng() % 256);
  cpu->cam_overlay(maps.t(), img.t(), lut.t(), 0.5f, scratch.t(), out.t());
  auto bytes = [&](test::Buffer<uint8_t>& b) {
    pools.push_back(gpu->make_pool("bytes", b.size() + 256, false));
    Tensor t = pools.back()->take(b.shape(), DType::u8, "bytes");
    gpu->copy(b.t(), t);
    return t;
  };
  test::Buffer<uint8_t> zero(out.shape());
  const Tensor gmaps = upload(maps.t()), gimg = bytes(img), glut = bytes(lut), gout = bytes(zero);
  const Tensor gscratch = poisoned(scratch.shape());
  gpu->cam_overlay(gmaps, gimg, glut, 0.5f, gscratch, gout);
  std::vector<uint8_t> got(out.size());
  gpu->copy(gout, Tensor(got.data(), out.shape(), DType::u8, Device::cpu()));
  int off = 0;
  for (size_t i = 0; i < got.size(); ++i)
    off += std::abs(int(got[i]) - int(out[i])) > 1;
  EXPECT_EQ(off, 0) << "bytes differing by more than one rounding step";
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

}  // namespace
}  // namespace scenecam
