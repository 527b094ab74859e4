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

struct Buffers {
  std::vector<float> x, w, y, dx, dw;
};

void fill(std::vector<float>& v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& f : v) f = dist(rng);
}

// Checks a few outputs of the forward against direct sums before anything is timed.
void validate(const ConvShape& s, const Conv2dParams& p, const Shape& ys, const Buffers& b) {
  std::mt19937_64 rng(7);
  for (int probe = 0; probe < 16; ++probe) {
    const int64_t n = rng() % ys[0], o = rng() % ys[1], i = rng() % ys[2], j = rng() % ys[3];
    double acc = 0, mag = 0;
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t ki = 0; ki < s.k; ++ki)
        for (int64_t kj = 0; kj < s.k; ++kj) {
          const int64_t ih = i * p.stride_h - p.pad_h + ki, iw = j * p.stride_w - p.pad_w + kj;
          if (ih < 0 || iw < 0 || ih >= s.hw || iw >= s.hw) continue;
          const double t = double(b.x[((n * s.c + c) * s.hw + ih) * s.hw + iw]) *
                           b.w[((o * s.c + c) * s.k + ki) * s.k + kj];
          acc += t;
          mag += std::abs(t);
        }
    const double got = b.y[((n * ys[1] + o) * ys[2] + i) * ys[3] + j];
    SC_CHECK(std::abs(got - acc) <= 1e-4 * (1 + mag), "conv benchmark ", s.name,
             ": output differs from the direct sum (", got, " vs ", acc, ")");
  }
}

}  // namespace

int run_conv(int argc, char** argv, int first) {
  const Flags flags(argc, argv, first,
                    {{"batch", "32"}, {"input", "224"}, {"threads", "0"}, {"repeats", "5"},
                     {"json", ""}});
  const int64_t batch = flags.integer("batch"), input = flags.integer("input");
  const int repeats = static_cast<int>(flags.integer("repeats"));
  SC_CHECK(batch >= 1 && input >= 32 && repeats >= 1, "need --batch >= 1, --input >= 32, --repeats >= 1");
  auto backend = make_cpu_backend(static_cast<int>(flags.integer("threads")));

  std::vector<ConvShape> shapes = resnet18_shapes(input);
  // The matrix-product ceiling: 1x1, stride 1, 512 channels at layer3's resolution.
  shapes.insert(shapes.begin(), ConvShape{"matmul ref 1x1 512->512", 512, 512, (input + 7) / 8, 1, 1});

  std::printf("scenecam-bench conv: cpu backend, batch %ld, input %ldx%ld, %u hardware threads, "
              "median of %d\n", long(batch), long(input), long(input),
              std::thread::hardware_concurrency(), repeats);
  Table table({"layer", "C", "O", "HxW", "k/s", "fwd_ms", "fwd_gflops", "bwd_data_ms",
               "bwd_data_gflops", "bwd_filter_ms", "bwd_filter_gflops", "fwd_pct_of_matmul"});
  double matmul_gflops = 0;
  for (const ConvShape& s : shapes) {
    Conv2dParams p;
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = static_cast<int>(s.k / 2);
    const Shape xs{batch, s.c, s.hw, s.hw}, ws{s.o, s.c, s.k, s.k};
    const Shape ys = conv2d_output_shape(p, xs, ws);
    Buffers b;
    b.x.resize(xs.numel());
    b.w.resize(ws.numel());
    b.y.resize(ys.numel());
    b.dx.resize(xs.numel());
    b.dw.resize(ws.numel());
    fill(b.x, 1);
    fill(b.w, 2);
    const Tensor x(b.x.data(), xs, DType::f32, Device::cpu()), w(b.w.data(), ws, DType::f32, Device::cpu());
    const Tensor y(b.y.data(), ys, DType::f32, Device::cpu());
    const Tensor dx(b.dx.data(), xs, DType::f32, Device::cpu()), dw(b.dw.data(), ws, DType::f32, Device::cpu());
    backend->conv2d_forward(p, x, w, y);
    validate(s, p, ys, b);

    const double flops = 2.0 * ys.numel() * s.c * s.k * s.k;
    const double fwd = median_seconds([&] { backend->conv2d_forward(p, x, w, y); }, 1, repeats);
    const double bwd_data = median_seconds([&] { backend->conv2d_backward_data(p, y, w, dx); }, 1, repeats);
    const double bwd_filter = median_seconds([&] { backend->conv2d_backward_filter(p, x, y, dw); }, 1, repeats);
    const double gf = flops / fwd / 1e9;
    if (matmul_gflops == 0) matmul_gflops = gf;
    table.add({s.name, std::to_string(s.c), std::to_string(s.o),
               std::to_string(s.hw) + "x" + std::to_string(s.hw),
               std::to_string(s.k) + "/" + std::to_string(s.stride), fixed(fwd * 1e3, 2),
               fixed(gf, 1), fixed(bwd_data * 1e3, 2), fixed(flops / bwd_data / 1e9, 1),
               fixed(bwd_filter * 1e3, 2), fixed(flops / bwd_filter / 1e9, 1),
               fixed(100.0 * gf / matmul_gflops, 0)});
  }
  table.print();
  if (!flags.str("json").empty()) {
    table.write_json(flags.str("json"), "\"bench\": \"conv\", \"backend\": \"cpu\", \"batch\": " +
                                            std::to_string(batch) + ", \"input\": " +
                                            std::to_string(input));
    std::printf("wrote %s\n", flags.str("json").c_str());
  }
  return 0;
}

}  // namespace scenecam::bench
