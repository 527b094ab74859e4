// Noisy linear imputation (imputation.hpp): the system A x = b over the removed pixels, with
// A_ii the sum of the weights of pixel i's neighbours inside the image and A_ij = -w_ij for
// removed neighbours j; b_i the weighted sum of its known neighbours. A is symmetric and, where
// every removed region touches a known pixel, positive definite.
#include "explain/imputation.hpp"

#include <cmath>

namespace scenecam {
namespace {

struct Neighbour {
  int dy, dx;
  double weight;
};
constexpr Neighbour kNeighbours[8] = {{-1, -1, 1.0 / 12}, {-1, 0, 1.0 / 6}, {-1, 1, 1.0 / 12},
                                      {0, -1, 1.0 / 6},   {0, 1, 1.0 / 6},  {1, -1, 1.0 / 12},
                                      {1, 0, 1.0 / 6},    {1, 1, 1.0 / 12}};

// The removed pixels' system, in a form the solver can apply: per unknown its diagonal, its
// removed neighbours (as unknown indices) and the right-hand side of one channel.
struct System {
  std::vector<int> pixel;                                // unknown -> pixel
  std::vector<double> diagonal;                          // A_ii
  std::vector<std::vector<std::pair<int, double>>> off;  // (unknown j, w_ij), A_ij = -w_ij
};

System build_system(int S, const std::vector<uint8_t>& removed) {
  System sys;
  std::vector<int> unknown(S * S, -1);
  for (int p = 0; p < S * S; ++p)
    if (removed[p]) {
      unknown[p] = int(sys.pixel.size());
      sys.pixel.push_back(p);
    }
  sys.diagonal.assign(sys.pixel.size(), 0.0);
  sys.off.resize(sys.pixel.size());
  for (size_t i = 0; i < sys.pixel.size(); ++i) {
    const int y = sys.pixel[i] / S, x = sys.pixel[i] % S;
    for (const Neighbour& n : kNeighbours) {
      const int yy = y + n.dy, xx = x + n.dx;
      if (yy < 0 || yy >= S || xx < 0 || xx >= S) continue;
      sys.diagonal[i] += n.weight;
      if (unknown[yy * S + xx] >= 0) sys.off[i].push_back({unknown[yy * S + xx], n.weight});
    }
  }
  return sys;
}

void apply(const System& sys, const std::vector<double>& x, std::vector<double>& out) {
  for (size_t i = 0; i < x.size(); ++i) {
    double v = sys.diagonal[i] * x[i];
    for (const auto& [j, w] : sys.off[i])
      v -= w * x[j];
    out[i] = v;
  }
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    s += a[i] * b[i];
  return s;
}

// Conjugate gradients from x = 0 until the residual falls to 1e-6 of b's norm.
int solve(const System& sys, const std::vector<double>& b, std::vector<double>& x) {
  const size_t n = b.size();
  x.assign(n, 0.0);
  std::vector<double> r = b, p = b, q(n);
  double rr = dot(r, r);
  const double stop = 1e-12 * std::max(rr, 1e-30);
  int it = 0;
  for (; it < 4 * int(n) + 10 && rr > stop; ++it) {
    apply(sys, p, q);
    const double pq = dot(p, q);
    if (!(pq > 0)) break;  // a removed region with no known pixel: nothing pins it
    const double alpha = rr / pq;
    for (size_t i = 0; i < n; ++i) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
    }
    const double next = dot(r, r);
    for (size_t i = 0; i < n; ++i)
      p[i] = r[i] + next / rr * p[i];
    rr = next;
  }
  return it;
}

}  // namespace

int noisy_linear_impute(float* image, int channels, int S, const std::vector<uint8_t>& removed,
                        float noise, std::mt19937& rng) {
  const System sys = build_system(S, removed);
  if (sys.pixel.empty()) return 0;
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  int slowest = 0;
  std::vector<double> b(sys.pixel.size()), x;
  for (int c = 0; c < channels; ++c) {
    float* plane = image + int64_t(c) * S * S;
    for (size_t i = 0; i < sys.pixel.size(); ++i) {
      const int y = sys.pixel[i] / S, xx = sys.pixel[i] % S;
      b[i] = 0;
      for (const Neighbour& n : kNeighbours) {
        const int ny = y + n.dy, nx = xx + n.dx;
        if (ny >= 0 && ny < S && nx >= 0 && nx < S && !removed[ny * S + nx])
          b[i] += n.weight * plane[ny * S + nx];
      }
    }
    slowest = std::max(slowest, solve(sys, b, x));
    for (size_t i = 0; i < sys.pixel.size(); ++i)
      plane[sys.pixel[i]] = float(x[i]) + noise * gauss(rng);
  }
  return slowest;
}

}  // namespace scenecam
