// EigenCAM's projection (projection.hpp). The eigenproblem is solved on the smaller Gram matrix:
// X^T X (C x C) when there are fewer channels than pixels, else X X^T (hw x hw), whose top
// eigenvector u gives the projection X v = sqrt(lambda) u directly.
#include "explain/projection.hpp"

#include <algorithm>
#include <cmath>

namespace scenecam {

double top_eigenvector(std::vector<double>& a, int64_t n, std::vector<double>* vector) {
  std::vector<double> v(n * n, 0.0);  // the rotations so far; columns are eigenvectors
  for (int64_t i = 0; i < n; ++i)
    v[i * n + i] = 1;
  for (int sweep = 0; sweep < 64; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t p = 0; p < n; ++p) {
      diag += a[p * n + p] * a[p * n + p];
      for (int64_t q = p + 1; q < n; ++q)
        off += a[p * n + q] * a[p * n + q];
    }
    if (off <= 1e-30 * diag || off == 0) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // columns p and q, then rows p and q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  int64_t top = 0;
  for (int64_t i = 1; i < n; ++i)
    if (a[i * n + i] > a[top * n + top]) top = i;
  vector->resize(n);
  for (int64_t k = 0; k < n; ++k)
    (*vector)[k] = v[k * n + top];
  return a[top * n + top];
}

std::vector<float> first_component_projection(const float* planes, int64_t C, int64_t hw) {
  // x[p * C + c]: sample p, feature c, centred over the samples.
  std::vector<double> x(hw * C), channel_sum(hw, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    double mean = 0;
    for (int64_t p = 0; p < hw; ++p)
      mean += planes[c * hw + p];
    mean /= double(hw);
    for (int64_t p = 0; p < hw; ++p) {
      x[p * C + c] = planes[c * hw + p] - mean;
      channel_sum[p] += x[p * C + c];
    }
  }
  const bool by_channels = C < hw;
  const int64_t n = by_channels ? C : hw;
  std::vector<double> gram(n * n, 0.0), u;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) {
      double dot = 0;
      if (by_channels)
        for (int64_t p = 0; p < hw; ++p)
          dot += x[p * C + i] * x[p * C + j];
      else
        for (int64_t c = 0; c < C; ++c)
          dot += x[i * C + c] * x[j * C + c];
      gram[i * n + j] = gram[j * n + i] = dot;
    }
  const double lambda = top_eigenvector(gram, n, &u);
  std::vector<double> projection(hw);
  for (int64_t p = 0; p < hw; ++p) {
    double value = 0;
    if (by_channels)
      for (int64_t c = 0; c < C; ++c)
        value += x[p * C + c] * u[c];
    else
      value = std::sqrt(std::max(lambda, 0.0)) * u[p];
    projection[p] = value;
  }
  double agreement = 0;
  int64_t largest = 0;
  for (int64_t p = 0; p < hw; ++p) {
    agreement += projection[p] * channel_sum[p];
    if (std::abs(projection[p]) > std::abs(projection[largest])) largest = p;
  }
  const bool flip = agreement < 0 || (agreement == 0 && projection[largest] < 0);
  std::vector<float> out(hw);
  for (int64_t p = 0; p < hw; ++p)
    out[p] = float(flip ? -projection[p] : projection[p]);
  return out;
}

}  // namespace scenecam
