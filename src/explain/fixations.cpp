// CNN Fixations (fixations.hpp): the host re-run of the network and the unravelling rules.
//
// The rules, from the authors' code for ResNets (val-iisc/cnn-fixations), for the target class t:
//   dense + global pooling: every channel c with a positive contribution W[t, c] * mean(A_c), at
//     the position of its largest activation in the last block's output;
//   residual join (y = relu(residual + shortcut)): a point follows the shortcut where the
//     shortcut's value there is at least the residual's, else the residual path;
//   convolution (also the shortcut's 1x1 projection): the input channel whose summed
//     contribution over the receptive field is largest, at that channel's largest input value
//     within the field;
//   max pool: the position of the window's maximum;
//   batch norm and ReLU: points pass through unchanged.
// Points are kept once per layer (a set), as the authors do.
#include "explain/fixations.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace scenecam {
namespace {

using Point = std::array<int64_t, 3>;  // channel, y, x

HostActivation conv(const HostActivation& x, const std::vector<float>& w, const Shape& ws,
                    int stride, int pad) {
  const int64_t O = ws[0], I = ws[1], k = ws[2];
  HostActivation y;
  y.C = O;
  y.H = (x.H + 2 * pad - k) / stride + 1;
  y.W = (x.W + 2 * pad - k) / stride + 1;
  y.v.assign(O * y.H * y.W, 0.0f);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx) {
          const float wv = w[((o * I + i) * k + ky) * k + kx];
          for (int64_t oy = 0; oy < y.H; ++oy) {
            const int64_t iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= x.H) continue;
            float* row = y.v.data() + (o * y.H + oy) * y.W;
            const float* in = x.v.data() + (i * x.H + iy) * x.W;
            for (int64_t ox = 0; ox < y.W; ++ox) {
              const int64_t ix = ox * stride - pad + kx;
              if (ix >= 0 && ix < x.W) row[ox] += wv * in[ix];
            }
          }
        }
  return y;
}

// The input point a convolution's output point (c, y, x) unravels to; w is filter c [I, k, k].
Point conv_back(const HostActivation& in, const float* w, int64_t k, int64_t y, int64_t x,
                int stride, int pad) {
  const int64_t y0 = y * stride - pad, x0 = x * stride - pad;
  auto inside = [&](int64_t yy, int64_t xx) {
    return yy >= 0 && yy < in.H && xx >= 0 && xx < in.W;
  };
  int64_t best = 0;
  double best_sum = -INFINITY;
  for (int64_t i = 0; i < in.C; ++i) {
    double sum = 0;
    for (int64_t dy = 0; dy < k; ++dy)
      for (int64_t dx = 0; dx < k; ++dx)
        if (inside(y0 + dy, x0 + dx))
          sum += double(in.at(i, y0 + dy, x0 + dx)) * w[(i * k + dy) * k + dx];
    if (sum > best_sum) best_sum = sum, best = i;
  }
  Point p{best, std::clamp<int64_t>(y0, 0, in.H - 1), std::clamp<int64_t>(x0, 0, in.W - 1)};
  float top = -INFINITY;
  for (int64_t dy = 0; dy < k; ++dy)
    for (int64_t dx = 0; dx < k; ++dx)
      if (inside(y0 + dy, x0 + dx) && in.at(best, y0 + dy, x0 + dx) > top) {
        top = in.at(best, y0 + dy, x0 + dx);
        p = {best, y0 + dy, x0 + dx};
      }
  return p;
}

}  // namespace

struct FixationNet::Trace {
  struct Block {
    std::string name;
    HostActivation input, a1, a2, residual, shortcut;
    int stride = 1;
    bool projection = false;
  };
  HostActivation image, stem, pooled, output;  // output: the last block's
  std::vector<Block> blocks;
  std::vector<float> mean, logits;  // the global pooling's output, the dense layer's
};

FixationNet::FixationNet(const ResNet& model, Backend& backend) : spec_(model.spec()) {
  SC_CHECK(spec_.block != BlockKind::pooling,
           "cnn-fixations: this model's pooling blocks (the notebook's architecture) are not "
           "covered by the unravelling rules; ResNets of basic or bottleneck blocks are");
  for (const ParamEntry& e : model.params().entries()) {
    std::vector<float>& host = weights_[e.name];
    host.resize(e.shape.numel());
    backend.copy(e.value, Tensor(host.data(), e.shape, DType::f32, Device::cpu()));
    shapes_[e.name] = e.shape;
  }
}

FixationNet::~FixationNet() = default;

namespace {

// y = x * gamma / sqrt(var + eps) + beta - mean * gamma / sqrt(var + eps), then ReLU if asked.
void batch_norm(HostActivation& x, const std::map<std::string, std::vector<float>>& w,
                const std::string& name, bool relu) {
  const auto& g = w.at(name + ".weight");
  const auto& b = w.at(name + ".bias");
  const auto& m = w.at(name + ".running_mean");
  const auto& v = w.at(name + ".running_var");
  for (int64_t c = 0; c < x.C; ++c) {
    const float eps = float(BatchNormParams{}.eps);  // the layers' (nn.hpp)
    const float scale = g[c] / std::sqrt(v[c] + eps), shift = b[c] - m[c] * scale;
    for (int64_t i = 0; i < x.H * x.W; ++i) {
      float& value = x.v[c * x.H * x.W + i];
      value = value * scale + shift;
      if (relu && value < 0) value = 0;
    }
  }
}

HostActivation max_pool(const HostActivation& x, int k, int stride, int pad) {
  HostActivation y;
  y.C = x.C;
  y.H = (x.H + 2 * pad - k) / stride + 1;
  y.W = (x.W + 2 * pad - k) / stride + 1;
  y.v.assign(y.C * y.H * y.W, -INFINITY);
  for (int64_t c = 0; c < y.C; ++c)
    for (int64_t oy = 0; oy < y.H; ++oy)
      for (int64_t ox = 0; ox < y.W; ++ox)
        for (int dy = 0; dy < k; ++dy)
          for (int dx = 0; dx < k; ++dx) {
            const int64_t iy = oy * stride - pad + dy, ix = ox * stride - pad + dx;
            if (iy >= 0 && iy < x.H && ix >= 0 && ix < x.W)
              y.v[(c * y.H + oy) * y.W + ox] =
                  std::max(y.v[(c * y.H + oy) * y.W + ox], x.at(c, iy, ix));
          }
  return y;
}

}  // namespace

FixationNet::Trace FixationNet::run(const float* image, int64_t S) const {
  Trace t;
  t.image = {3, S, S, std::vector<float>(image, image + 3 * S * S)};
  auto conv_of = [&](const HostActivation& x, const std::string& name, int stride, int pad) {
    return conv(x, weights_.at(name + ".weight"), shapes_.at(name + ".weight"), stride, pad);
  };
  t.stem = conv_of(t.image, "conv1", spec_.stem_stride, spec_.stem_kernel / 2);
  batch_norm(t.stem, weights_, "bn1", true);
  t.pooled = spec_.stem_pool ? max_pool(t.stem, 3, 2, spec_.stem_pool_pad) : t.stem;
  HostActivation h = t.pooled;
  for (size_t s = 0; s < spec_.widths.size(); ++s)
    for (int b = 0; b < spec_.blocks[s]; ++b) {
      Trace::Block k;
      k.name = "layer" + std::to_string(s + 1) + "." + std::to_string(b);
      k.stride = (b == 0 && s > 0) ? 2 : 1;
      k.projection = weights_.count(k.name + ".downsample.0.weight") > 0;
      k.input = h;
      const bool basic = spec_.block == BlockKind::basic;
      k.a1 = conv_of(h, k.name + ".conv1", basic ? k.stride : 1, basic ? 1 : 0);
      batch_norm(k.a1, weights_, k.name + ".bn1", true);
      if (basic) {
        k.residual = conv_of(k.a1, k.name + ".conv2", 1, 1);
        batch_norm(k.residual, weights_, k.name + ".bn2", false);
      } else {
        k.a2 = conv_of(k.a1, k.name + ".conv2", k.stride, 1);
        batch_norm(k.a2, weights_, k.name + ".bn2", true);
        k.residual = conv_of(k.a2, k.name + ".conv3", 1, 0);
        batch_norm(k.residual, weights_, k.name + ".bn3", false);
      }
      k.shortcut = h;
      if (k.projection) {
        k.shortcut = conv_of(h, k.name + ".downsample.0", k.stride, 0);
        batch_norm(k.shortcut, weights_, k.name + ".downsample.1", false);
      }
      h = k.residual;
      for (size_t i = 0; i < h.v.size(); ++i)
        h.v[i] = std::max(h.v[i] + k.shortcut.v[i], 0.0f);
      t.blocks.push_back(std::move(k));
    }
  t.mean.assign(h.C, 0.0f);
  for (int64_t c = 0; c < h.C; ++c)
    for (int64_t i = 0; i < h.H * h.W; ++i)
      t.mean[c] += h.v[c * h.H * h.W + i] / float(h.H * h.W);
  const std::vector<float>& fc = weights_.at("fc.weight");
  const std::vector<float>& bias = weights_.at("fc.bias");
  t.logits.assign(spec_.classes, 0.0f);
  for (int64_t j = 0; j < spec_.classes; ++j) {
    t.logits[j] = bias[j];
    for (int64_t c = 0; c < h.C; ++c)
      t.logits[j] += fc[j * h.C + c] * t.mean[c];
  }
  t.output = std::move(h);
  return t;
}

std::vector<float> FixationNet::logits(const float* image, int64_t S) const {
  return run(image, S).logits;
}

namespace {

// A block's output points unravelled to its input.
std::set<Point> through_block(const FixationNet::Trace::Block& b, BlockKind kind,
                              const std::map<std::string, std::vector<float>>& w,
                              const std::map<std::string, Shape>& shapes,
                              const std::set<Point>& points) {
  auto filter = [&](const std::string& conv, int64_t c) {
    const Shape& s = shapes.at(b.name + "." + conv + ".weight");
    return w.at(b.name + "." + conv + ".weight").data() + c * s[1] * s[2] * s[3];
  };
  std::set<Point> out;
  for (const Point& p : points) {
    const auto [c, y, x] = p;
    if (b.shortcut.at(c, y, x) >= b.residual.at(c, y, x)) {
      out.insert(b.projection ? conv_back(b.input, filter("downsample.0", c), 1, y, x, b.stride, 0)
                              : p);
    } else if (kind == BlockKind::basic) {
      const Point q = conv_back(b.a1, filter("conv2", c), 3, y, x, 1, 1);
      out.insert(conv_back(b.input, filter("conv1", q[0]), 3, q[1], q[2], b.stride, 1));
    } else {
      const Point q = conv_back(b.a2, filter("conv3", c), 1, y, x, 1, 0);
      const Point r = conv_back(b.a1, filter("conv2", q[0]), 3, q[1], q[2], b.stride, 1);
      out.insert(conv_back(b.input, filter("conv1", r[0]), 1, r[1], r[2], 1, 0));
    }
  }
  return out;
}

// Points of a max pool's output to the positions of their windows' maxima.
std::set<Point> through_max_pool(const HostActivation& in, const std::set<Point>& points, int k,
                                 int stride, int pad) {
  std::set<Point> out;
  for (const auto& [c, y, x] : points) {
    Point best{c, std::clamp<int64_t>(y * stride - pad, 0, in.H - 1),
               std::clamp<int64_t>(x * stride - pad, 0, in.W - 1)};
    for (int dy = 0; dy < k; ++dy)
      for (int dx = 0; dx < k; ++dx) {
        const int64_t yy = y * stride - pad + dy, xx = x * stride - pad + dx;
        if (yy >= 0 && yy < in.H && xx >= 0 && xx < in.W &&
            in.at(c, yy, xx) > in.at(best[0], best[1], best[2]))
          best = {c, yy, xx};
      }
    out.insert(best);
  }
  return out;
}

}  // namespace

std::vector<std::array<int32_t, 2>> FixationNet::unravel(const float* image, int64_t S,
                                                         int32_t target) const {
  const Trace t = run(image, S);
  const HostActivation& last = t.output;
  const std::vector<float>& fc = weights_.at("fc.weight");
  std::set<Point> points;
  for (int64_t c = 0; c < last.C; ++c) {
    if (!(fc[target * last.C + c] * t.mean[c] > 0)) continue;
    const float* plane = last.v.data() + c * last.H * last.W;
    const int64_t at = std::max_element(plane, plane + last.H * last.W) - plane;
    points.insert({c, at / last.W, at % last.W});
  }
  for (size_t i = t.blocks.size(); i-- > 0;)
    points = through_block(t.blocks[i], spec_.block, weights_, shapes_, points);
  if (spec_.stem_pool) points = through_max_pool(t.stem, points, 3, 2, spec_.stem_pool_pad);
  const Shape& ws = shapes_.at("conv1.weight");
  const float* w = weights_.at("conv1.weight").data();
  std::set<std::array<int32_t, 2>> pixels;  // (y, x), so the list comes out in row-major order
  for (const auto& [c, y, x] : points) {
    const Point p = conv_back(t.image, w + c * ws[1] * ws[2] * ws[3], ws[2], y, x,
                              spec_.stem_stride, spec_.stem_kernel / 2);
    pixels.insert({int32_t(p[1]), int32_t(p[2])});
  }
  std::vector<std::array<int32_t, 2>> out;
  for (const auto& [y, x] : pixels)
    out.push_back({x, y});
  return out;
}

namespace {

int64_t reflect101(int64_t i, int64_t n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n)
    i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

}  // namespace

std::vector<float> fixation_density(const std::vector<std::array<int32_t, 2>>& points, int64_t S,
                                    double sigma) {
  std::vector<double> count(S * S, 0.0), rows(S * S, 0.0);
  for (const auto& [x, y] : points)
    count[y * S + x] += 1.0;
  const int64_t radius = std::max<int64_t>(1, int64_t(std::ceil(3 * sigma)));
  std::vector<double> kernel(2 * radius + 1);
  double total = 0;
  for (int64_t i = -radius; i <= radius; ++i)
    total += kernel[i + radius] = std::exp(-0.5 * double(i * i) / (sigma * sigma));
  for (double& k : kernel)
    k /= total;
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x)
      for (int64_t i = -radius; i <= radius; ++i)
        rows[y * S + x] += kernel[i + radius] * count[y * S + reflect101(x + i, S)];
  std::vector<float> out(S * S, 0.0f);
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x) {
      double v = 0;
      for (int64_t i = -radius; i <= radius; ++i)
        v += kernel[i + radius] * rows[reflect101(y + i, S) * S + x];
      out[y * S + x] = float(v);
    }
  return out;
}

}  // namespace scenecam
