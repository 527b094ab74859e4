// Spearman's rho and SSIM (similarity.hpp).
#include "explain/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace scenecam {
namespace {

std::vector<double> ranks(const float* values, int64_t n) {
  std::vector<float> x(values, values + n);  // NaN ranks lowest: a sort needs a strict order
  for (float& v : x)
    if (std::isnan(v)) v = -INFINITY;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return x[a] < x[b]; });
  std::vector<double> r(n);
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j + 1 < n && x[order[j + 1]] == x[order[i]])
      ++j;
    for (int64_t k = i; k <= j; ++k)
      r[order[k]] = 0.5 * double(i + j);
    i = j + 1;
  }
  return r;
}

}  // namespace

double spearman(const float* a, const float* b, int64_t n) {
  const std::vector<double> ra = ranks(a, n), rb = ranks(b, n);
  const double mean = 0.5 * double(n - 1);
  double sab = 0, saa = 0, sbb = 0;
  for (int64_t i = 0; i < n; ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : std::nan("");
}

double ssim(const float* a, const float* b, int S) {
  constexpr int kWin = 7;
  constexpr double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
  const int win = std::min(kWin, S);
  const double count = double(win) * win, unbiased = count / (count - 1);
  double total = 0;
  int windows = 0;
  for (int y0 = 0; y0 + win <= S; ++y0)
    for (int x0 = 0; x0 + win <= S; ++x0) {
      double ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
      for (int y = y0; y < y0 + win; ++y)
        for (int x = x0; x < x0 + win; ++x) {
          const double va = a[y * S + x], vb = b[y * S + x];
          ma += va;
          mb += vb;
          aa += va * va;
          bb += vb * vb;
          ab += va * vb;
        }
      ma /= count;
      mb /= count;
      const double var_a = (aa / count - ma * ma) * unbiased,
                   var_b = (bb / count - mb * mb) * unbiased;
      const double cov = (ab / count - ma * mb) * unbiased;
      total +=
          ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (var_a + var_b + C2));
      ++windows;
    }
  return windows ? total / windows : 0.0;
}

}  // namespace scenecam
