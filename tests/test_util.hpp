// Helpers for the tests: host buffers that own their storage and hand out Tensor views, seeded
// random fills that keep values away from the kinks of ReLU and max pooling, and a
// finite-difference gradient checker in double precision.
#pragma once

// 1 when the test is built with AddressSanitizer (GCC's and clang's spellings).
#if defined(__SANITIZE_ADDRESS__)
#define SCENECAM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCENECAM_TEST_ASAN 1
#endif
#endif
#ifndef SCENECAM_TEST_ASAN
#define SCENECAM_TEST_ASAN 0
#endif

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "scenecam/backend.hpp"

namespace scenecam::test {

template <typename T>
class Buffer {
 public:
  explicit Buffer(const Shape& shape) : data_(shape.numel()), shape_(shape) {}
  Buffer(const Shape& shape, std::vector<T> values) : data_(std::move(values)), shape_(shape) {
    EXPECT_EQ(static_cast<int64_t>(data_.size()), shape.numel());
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&&) = default;

  Tensor t() { return Tensor(data_.data(), shape_, dtype_of<T>(), Device::cpu()); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return data_.size(); }
  std::vector<T>& values() { return data_; }
  const Shape& shape() const { return shape_; }

 private:
  std::vector<T> data_;
  Shape shape_;
};

using D = Buffer<double>;
using F = Buffer<float>;

// Square convolution parameters.
inline Conv2dParams conv(int stride, int pad, int dilation = 1, int groups = 1) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.dilation_h = p.dilation_w = dilation;
  p.groups = groups;
  return p;
}

// Uniform values in [-1, 1], none closer than `gap` to zero.
template <typename T>
void fill_random(Buffer<T>& b, uint64_t seed, double gap = 0.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(gap, 1.0);
  std::bernoulli_distribution sign(0.5);
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<T>(sign(rng) ? dist(rng) : -dist(rng));
}

// Distinct values at least 1/size apart (a shuffled ramp), so maxima are unique and a small
// perturbation never changes which element wins a pooling window.
template <typename T>
void fill_distinct(Buffer<T>& b, uint64_t seed) {
  std::vector<size_t> order(b.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<T>(double(order[i]) / b.size() - 0.5);
}

// Fills with NaN: outputs are poisoned before an op runs, so an element it forgets to write shows.
template <typename T>
void poison(Buffer<T>& b) {
  std::fill(b.values().begin(), b.values().end(), std::numeric_limits<T>::quiet_NaN());
}

// Compares an analytic gradient with central differences of `loss` with respect to every element
// of `input`. Both are double precision; the loss is recomputed from scratch each time.
inline void expect_gradient(const char* what, D& input, const D& analytic,
                            const std::function<double()>& loss, double eps = 1e-6,
                            double tolerance = 1e-7) {
  ASSERT_EQ(input.size(), analytic.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    const double saved = input[i];
    input[i] = saved + eps;
    const double plus = loss();
    input[i] = saved - eps;
    const double minus = loss();
    input[i] = saved;
    const double numeric = (plus - minus) / (2 * eps);
    const double scale = std::max({1.0, std::abs(numeric), std::abs(analytic[i])});
    if (std::abs(numeric - analytic[i]) > tolerance * scale && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " analytic " << analytic[i] << " numeric "
                    << numeric;
    }
  }
}

// sum_i w[i] * y[i]: turns a tensor output into a scalar loss whose gradient w.r.t. y is w.
inline double dot(const D& w, const D& y) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i)
    s += w[i] * y[i];
  return s;
}

// Expects f() to throw a scenecam::Error whose message contains every given fragment.
inline void expect_error(const std::function<void()>& f, std::initializer_list<const char*> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a scenecam::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const char* part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
}

}  // namespace scenecam::test
