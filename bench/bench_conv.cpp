// scenecam-bench conv: every distinct convolution of ResNet-18, forward, backward-data and
// backward-filter, on the CPU or the CUDA backend: median time, TFLOP/s, and the method (CPU) or
// cuDNN algorithm (CUDA) the backend chose. Each forward is also placed on a roofline measured in
// the same run: the compute roof is the backend's matrix-product speed (a 1x1 convolution without
// stride or padding is a plain batch of matrix products, no im2col), the memory roof the copy
// bandwidth times the layer's FLOPs per byte (input, filter and output moved once).
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <tuple>

#include "bench_util.hpp"
#include "internal/progress.hpp"
#include "scenecam/backend.hpp"

namespace scenecam::bench {

namespace {

struct ConvShape {
  std::string name;
  int64_t c, o, hw, k;
  int stride;
};

// ResNet-18's distinct convolutions for a square input of side `input`.
std::vector<ConvShape> resnet18_shapes(int64_t input) {
  const int64_t s1 = (input + 1) / 2, s2 = (s1 + 1) / 2;  // after conv1, after the max pool
  const int64_t s3 = (s2 + 1) / 2, s4 = (s3 + 1) / 2, s5 = (s4 + 1) / 2;
  return {
      {"conv1 7x7/2", 3, 64, input, 7, 2},
      {"layer1 3x3", 64, 64, s2, 3, 1},
      {"layer2.0.conv1 3x3/2", 64, 128, s2, 3, 2},
      {"layer2 3x3", 128, 128, s3, 3, 1},
      {"layer2 downsample 1x1/2", 64, 128, s2, 1, 2},
      {"layer3.0.conv1 3x3/2", 128, 256, s3, 3, 2},
      {"layer3 3x3", 256, 256, s4, 3, 1},
      {"layer3 downsample 1x1/2", 128, 256, s3, 1, 2},
      {"layer4.0.conv1 3x3/2", 256, 512, s4, 3, 2},
      {"layer4 3x3", 512, 512, s5, 3, 1},
      {"layer4 downsample 1x1/2", 256, 512, s4, 1, 2},
  };
}

void fill(std::vector<float>& v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& f : v)
    f = dist(rng);
}

// One convolution's tensors on the benchmarked backend, its FLOP count, and its three passes.
struct Case {
  ConvShape s;
  Conv2dParams p;
  Shape xs, ws, ys;
  std::unique_ptr<Pool> pool;
  Tensor x, w, y, dx, dw;
  std::vector<float> host_x, host_w;
  double flops;

  Case(const ConvShape& shape, int64_t batch, Backend& be) : s(shape) {
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = static_cast<int>(s.k / 2);
    xs = Shape{batch, s.c, s.hw, s.hw};
    ws = Shape{s.o, s.c, s.k, s.k};
    ys = conv2d_output_shape(p, xs, ws);
    pool = be.make_pool("conv " + s.name,
                        2 * (xs.numel() + ws.numel()) * 4 + ys.numel() * 4 + 8 * kPoolAlignment,
                        false);
    x = pool->take(xs, DType::f32, "x");
    w = pool->take(ws, DType::f32, "w");
    y = pool->take(ys, DType::f32, "y");
    dx = pool->take(xs, DType::f32, "dx");
    dw = pool->take(ws, DType::f32, "dw");
    host_x.resize(xs.numel());
    host_w.resize(ws.numel());
    fill(host_x, 1);
    fill(host_w, 2);
    be.copy(Tensor(host_x.data(), xs, DType::f32, Device::cpu()), x);
    be.copy(Tensor(host_w.data(), ws, DType::f32, Device::cpu()), w);
    flops = 2.0 * ys.numel() * s.c * s.k * s.k;  // per pass; the backward passes cost the same
  }
  // The backward passes read y as their incoming gradient: any values do.
  void forward(Backend& be) { be.conv2d_forward(p, x, w, y); }
  void backward_data(Backend& be) { be.conv2d_backward_data(p, y, w, dx); }
  void backward_filter(Backend& be) { be.conv2d_backward_filter(p, x, y, dw); }

  // Runs the forward once over a NaN-poisoned output and checks a few outputs against direct
  // sums in double, before any timing. The tolerance admits TF32 products on the GPU (10-bit
  // mantissas: a relative error near 1e-3 of the sum of magnitudes).
  void check(Backend& be) {
    be.fill(y, std::nan(""));
    forward(be);
    std::vector<float> out(ys.numel());
    be.copy(y, Tensor(out.data(), ys, DType::f32, Device::cpu()));
    std::mt19937_64 rng(7);
    for (int probe = 0; probe < 16; ++probe) {
      const int64_t n = rng() % ys[0], o = rng() % ys[1], i = rng() % ys[2], j = rng() % ys[3];
      double acc = 0, mag = 0;
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t ki = 0; ki < s.k; ++ki)
          for (int64_t kj = 0; kj < s.k; ++kj) {
            const int64_t ih = i * p.stride_h - p.pad_h + ki, iw = j * p.stride_w - p.pad_w + kj;
            if (ih < 0 || iw < 0 || ih >= s.hw || iw >= s.hw) continue;
            const double term = double(host_x[((n * s.c + c) * s.hw + ih) * s.hw + iw]) *
                                host_w[((o * s.c + c) * s.k + ki) * s.k + kj];
            acc += term;
            mag += std::abs(term);
          }
      const double got = out[((n * ys[1] + o) * ys[2] + i) * ys[3] + j];
      const double tol = (be.device().is_cpu() ? 1e-4 : 2e-3) * (1 + mag);
      SC_CHECK(std::abs(got - acc) <= tol, "conv benchmark ", s.name,
               ": output differs from the direct sum (", got, " vs ", acc, ")");
    }
  }
};

// One row: a layer's three passes timed (its forward alternately with the matrix-product
// reference on the CPU), their rates, the roofline and the algorithm each pass uses.
std::vector<std::string> time_shape(Backend& backend, const ConvShape& s, int64_t batch,
                                    Case& reference, int repeats, double copy_gbs) {
  const bool gpu = backend.device().is_cuda();
  Case c(s, batch, backend);
  c.check(backend);
  double ref_fwd = 0, fwd = 0;
  if (gpu) {
    ref_fwd = device_median_seconds(
        backend, [&] { reference.forward(backend); }, 3, repeats);
    fwd = device_median_seconds(
        backend, [&] { c.forward(backend); }, 3, repeats);
  } else {
    std::tie(ref_fwd, fwd) = paired_median_seconds([&] { reference.forward(backend); },
                                                   [&] { c.forward(backend); }, repeats);
  }
  const double bwd_data = device_median_seconds(
      backend, [&] { c.backward_data(backend); }, 1, repeats);
  const double bwd_filter = device_median_seconds(
      backend, [&] { c.backward_filter(backend); }, 1, repeats);
  const double tf = c.flops / fwd / 1e12, ref_tf = reference.flops / ref_fwd / 1e12;
  const double intensity = c.flops / (4.0 * (c.xs.numel() + c.ws.numel() + c.ys.numel()));
  const double roof = std::min(ref_tf, intensity * copy_gbs / 1e3);
  return {s.name,
          std::to_string(s.c),
          std::to_string(s.o),
          std::to_string(s.hw) + "x" + std::to_string(s.hw),
          std::to_string(s.k) + "/" + std::to_string(s.stride),
          significant(fwd * 1e3, 4),
          fixed(tf, 3),
          significant(bwd_data * 1e3, 4),
          fixed(c.flops / bwd_data / 1e12, 3),
          significant(bwd_filter * 1e3, 4),
          fixed(c.flops / bwd_filter / 1e12, 3),
          fixed(ref_tf, 3),
          fixed(intensity, 1),
          fixed(roof, 3),
          fixed(100.0 * tf / roof, 0),
          measurement_of(backend).conv_algorithm(c.p, c.xs, c.ws, ConvPass::forward),
          measurement_of(backend).conv_algorithm(c.p, c.xs, c.ws, ConvPass::backward_data),
          measurement_of(backend).conv_algorithm(c.p, c.xs, c.ws, ConvPass::backward_filter)};
}

}  // namespace

int run_conv(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"device", "cpu"},
                     {"batch", ""},
                     {"input", "224"},
                     {"threads", "0"},
                     {"repeats", ""},
                     {"json", ""}});
  auto backend = bench_backend(flags.str("device"), static_cast<int>(flags.integer("threads")));
  const bool gpu = backend->device().is_cuda();
  const int64_t batch = flags.given("batch") ? flags.integer("batch") : gpu ? 128 : 32;
  const int64_t input = flags.integer("input");
  const int repeats = flags.given("repeats") ? static_cast<int>(flags.integer("repeats"))
                      : gpu                  ? 50
                                             : 5;
  SC_USAGE_CHECK(batch >= 1 && input >= 32 && repeats >= 1,
                 "need --batch >= 1, --input >= 32, --repeats >= 1");

  // The matrix-product reference: a 1x1 convolution without stride or padding (no im2col), 512
  // channels at layer3's resolution. On the CPU each layer's forward is timed alternately with
  // it, so the share of the reference rate holds even when the machine's speed drifts.
  const ConvShape ref{"matmul ref 1x1 512->512", 512, 512, (input + 7) / 8, 1, 1};
  Case reference(ref, batch, *backend);
  reference.check(*backend);

  std::printf(
      "scenecam-bench conv: %s backend, batch %ld, input %ldx%ld, %s, median of %d\n",
      backend->name().c_str(), long(batch), long(input), long(input),
      gpu ? "float32 with TF32 tensor cores (as PyTorch's cuDNN default)"
          : (std::to_string(std::thread::hardware_concurrency()) + " hardware threads").c_str(),
      repeats);
  // The roofline: the matrix-product reference's rate is the compute roof, the copy bandwidth
  // the memory one; a layer's forward can reach at most min(ref, flop_per_byte * bandwidth).
  const double copy_gbs = copy_bandwidth_gbs(*backend, gpu ? 256 : 64, repeats);
  std::printf("copy bandwidth: %.1f GB/s\n", copy_gbs);
  Table table({"layer", "C", "O", "HxW", "k/s", "fwd_ms", "fwd_tflops", "bwd_data_ms",
               "bwd_data_tflops", "bwd_filter_ms", "bwd_filter_tflops", "ref_tflops",
               "flop_per_byte", "roof_tflops", "fwd_pct_of_roof", "fwd_algo", "bwd_data_algo",
               "bwd_filter_algo"});
  std::vector<ConvShape> shapes = resnet18_shapes(input);
  shapes.insert(shapes.begin(), ref);
  Progress progress("conv", int64_t(shapes.size()), stderr);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const ConvShape& s = shapes[i];
    progress.update(int64_t(i), s.name);
    table.add(time_shape(*backend, s, batch, reference, repeats, copy_gbs));
  }
  progress.finish("done");
  table.print();
  if (!flags.str("json").empty()) {
    table.write_json(flags.str("json"), "\"bench\": \"conv\", \"backend\": \"" + backend->name() +
                                            "\", \"batch\": " + std::to_string(batch) +
                                            ", \"input\": " + std::to_string(input));
    std::printf("wrote %s\n", flags.str("json").c_str());
  }
  return 0;
}

}  // namespace scenecam::bench
