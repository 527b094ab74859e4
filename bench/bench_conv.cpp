// scenecam-bench conv: every distinct convolution of ResNet-18, forward, backward-data and
// backward-filter, on the CPU backend. Reports median time and GFLOP/s, and each as a share of
// the machine's matrix-product speed measured in the same run: a 1x1 convolution without stride
// or padding is a plain batch of matrix products (no im2col), so its forward rate is the ceiling
// the other shapes are held against.
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "bench_util.hpp"
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

// One convolution's tensors, its FLOP count, and its three timed calls.
struct Case {
  ConvShape s;
  Conv2dParams p;
  Shape xs, ws, ys;
  std::vector<float> x, w, y, dx, dw;
  double flops;

  Case(const ConvShape& shape, int64_t batch) : s(shape) {
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = static_cast<int>(s.k / 2);
    xs = Shape{batch, s.c, s.hw, s.hw};
    ws = Shape{s.o, s.c, s.k, s.k};
    ys = conv2d_output_shape(p, xs, ws);
    x.resize(xs.numel());
    w.resize(ws.numel());
    y.resize(ys.numel());
    dx.resize(xs.numel());
    dw.resize(ws.numel());
    fill(x, 1);
    fill(w, 2);
    flops = 2.0 * ys.numel() * s.c * s.k * s.k;  // per pass; the backward passes cost the same
  }
  Tensor t(std::vector<float>& v, const Shape& shape) {
    return Tensor(v.data(), shape, DType::f32, Device::cpu());
  }
  void forward(Backend& be) { be.conv2d_forward(p, t(x, xs), t(w, ws), t(y, ys)); }
  void backward_data(Backend& be) { be.conv2d_backward_data(p, t(y, ys), t(w, ws), t(dx, xs)); }
  void backward_filter(Backend& be) { be.conv2d_backward_filter(p, t(x, xs), t(y, ys), t(dw, ws)); }

  // Runs the forward once and checks a few outputs against direct sums, before any timing.
  void check(Backend& be) {
    forward(be);
    std::mt19937_64 rng(7);
    for (int probe = 0; probe < 16; ++probe) {
      const int64_t n = rng() % ys[0], o = rng() % ys[1], i = rng() % ys[2], j = rng() % ys[3];
      double acc = 0, mag = 0;
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t ki = 0; ki < s.k; ++ki)
          for (int64_t kj = 0; kj < s.k; ++kj) {
            const int64_t ih = i * p.stride_h - p.pad_h + ki, iw = j * p.stride_w - p.pad_w + kj;
            if (ih < 0 || iw < 0 || ih >= s.hw || iw >= s.hw) continue;
            const double term = double(x[((n * s.c + c) * s.hw + ih) * s.hw + iw]) *
                                w[((o * s.c + c) * s.k + ki) * s.k + kj];
            acc += term;
            mag += std::abs(term);
          }
      const double got = y[((n * ys[1] + o) * ys[2] + i) * ys[3] + j];
      SC_CHECK(std::abs(got - acc) <= 1e-4 * (1 + mag), "conv benchmark ", s.name,
               ": output differs from the direct sum (", got, " vs ", acc, ")");
    }
  }
};

}  // namespace

int run_conv(int argc, char** argv, int first) {
  const Flags flags(
      argc, argv, first,
      {{"batch", "32"}, {"input", "224"}, {"threads", "0"}, {"repeats", "5"}, {"json", ""}});
  const int64_t batch = flags.integer("batch"), input = flags.integer("input");
  const int repeats = static_cast<int>(flags.integer("repeats"));
  SC_CHECK(batch >= 1 && input >= 32 && repeats >= 1,
           "need --batch >= 1, --input >= 32, --repeats >= 1");
  auto backend = make_cpu_backend(static_cast<int>(flags.integer("threads")));

  // The matrix-product reference: a 1x1 convolution without stride or padding (no im2col), 512
  // channels at layer3's resolution. Each layer's forward is timed alternately with it, so the
  // share of the reference rate holds even when the machine's speed drifts during the run.
  const ConvShape ref{"matmul ref 1x1 512->512", 512, 512, (input + 7) / 8, 1, 1};
  Case reference(ref, batch);
  reference.check(*backend);

  std::printf(
      "scenecam-bench conv: cpu backend, batch %ld, input %ldx%ld, %u hardware threads, "
      "median of %d\n",
      long(batch), long(input), long(input), std::thread::hardware_concurrency(), repeats);
  Table table({"layer", "C", "O", "HxW", "k/s", "fwd_ms", "fwd_gflops", "bwd_data_ms",
               "bwd_data_gflops", "bwd_filter_ms", "bwd_filter_gflops", "ref_gflops",
               "fwd_pct_of_ref"});
  std::vector<ConvShape> shapes = resnet18_shapes(input);
  shapes.insert(shapes.begin(), ref);
  for (const ConvShape& s : shapes) {
    Case c(s, batch);
    c.check(*backend);
    const auto [ref_fwd, fwd] = paired_median_seconds([&] { reference.forward(*backend); },
                                                      [&] { c.forward(*backend); }, repeats);
    const double bwd_data = median_seconds([&] { c.backward_data(*backend); }, 1, repeats);
    const double bwd_filter = median_seconds([&] { c.backward_filter(*backend); }, 1, repeats);
    const double gf = c.flops / fwd / 1e9, ref_gf = reference.flops / ref_fwd / 1e9;
    table.add({s.name, std::to_string(s.c), std::to_string(s.o),
               std::to_string(s.hw) + "x" + std::to_string(s.hw),
               std::to_string(s.k) + "/" + std::to_string(s.stride), fixed(fwd * 1e3, 2),
               fixed(gf, 1), fixed(bwd_data * 1e3, 2), fixed(c.flops / bwd_data / 1e9, 1),
               fixed(bwd_filter * 1e3, 2), fixed(c.flops / bwd_filter / 1e9, 1), fixed(ref_gf, 1),
               fixed(100.0 * gf / ref_gf, 0)});
  }
  table.print();
  if (!flags.str("json").empty()) {
    table.write_json(flags.str("json"), "\"bench\": \"conv\", \"backend\": \"cpu\", \"batch\": " +
                                            std::to_string(batch) +
                                            ", \"input\": " + std::to_string(input));
    std::printf("wrote %s\n", flags.str("json").c_str());
  }
  return 0;
}

}  // namespace scenecam::bench
