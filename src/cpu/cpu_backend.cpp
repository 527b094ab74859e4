// CpuBackend: every op but convolution (cpu_conv.cpp). Reductions accumulate in double whatever
// the tensor dtype, so float32 statistics stay accurate over large batches.
#include "cpu/cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/eigen.hpp"
#include "internal/op_checks.hpp"

namespace scenecam {
namespace {

using cpu::ConstMatrixMap;
using cpu::MatrixMap;

}  // namespace

CpuBackend::CpuBackend(int threads)
    : threads_(threads > 0 ? threads : omp_get_max_threads()),
      workspace_(make_host_pool("cpu workspace", 0, /*growable=*/true)) {}

DType CpuBackend::float_dtype(const char* op, const Tensor& first) const {
  SC_CHECK(first.defined(), op, ": first argument is an undefined tensor");
  SC_CHECK(first.device().is_cpu(), op, ": tensor ", first.str(),
           " is not on the cpu; the cpu backend computes on host memory only");
  SC_CHECK(first.dtype() == DType::f32 || first.dtype() == DType::f64, op,
           ": the cpu backend computes in f32 or f64, got ", first.str());
  check_layout(op, "x", first, Layout::rowmajor);
  return first.dtype();
}

// ---------------------------------------------------------------- utilities

void CpuBackend::fill(const Tensor& t, double value) {
  SC_CHECK(t.defined() && t.device().is_cpu(), "fill: tensor must be defined and on the cpu");
  switch (t.dtype()) {
    case DType::f32:
      std::fill_n(t.data<float>(), t.numel(), static_cast<float>(value));
      break;
    case DType::f64:
      std::fill_n(t.data<double>(), t.numel(), value);
      break;
    case DType::i32:
      std::fill_n(t.data<int32_t>(), t.numel(), static_cast<int32_t>(value));
      break;
    case DType::u8:
      std::fill_n(t.data<uint8_t>(), t.numel(), static_cast<uint8_t>(value));
      break;
    default:
      fail("fill: dtype ", dtype_name(t.dtype()), " has no cpu fill");
  }
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  check_tensor("copy", "src", src, device(), src.dtype());
  check_tensor("copy", "dst", dst, device(), src.dtype(), src.shape());
  SC_CHECK(src.layout() == dst.layout(), "copy: layouts differ (", src.str(), " -> ", dst.str(),
           ")");
  std::memmove(dst.raw(), src.raw(), src.nbytes());
}

void CpuBackend::add_(const Tensor& dst, const Tensor& src) {
  const DType dt = float_dtype("add_", dst);
  check_tensor("add_", "src", src, device(), dt, dst.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    const int64_t n = dst.numel();
    parallel_for(threads_, n, 1, [&](int64_t i) { d[i] += s[i]; });
  });
}

// ---------------------------------------------------------------- input pipeline

namespace {

// Renders images [N, S, S, 3] (image order[n] for output n, or n when order is null) through
// their transforms into normalised out [N, 3, S, S].
void render_batch(int threads, const uint8_t* images, const int32_t* order, int64_t N, int64_t S,
                  const float* transforms, const Normalization& norm, float* out) {
  parallel_for(threads, N * 3, S * S * 8, [&](int64_t plane) {
    const int64_t n = plane / 3;
    const int c = static_cast<int>(plane % 3);
    SampleTransform t;
    std::memcpy(static_cast<void*>(&t), transforms + n * kTransformFields, sizeof t);
    const float scale = 1.0f / (255.0f * norm.std[c]), shift = norm.mean[c] / norm.std[c];
    const uint8_t* rgb = images + (order ? order[n] : n) * S * S * 3;
    float* o = out + plane * S * S;
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x)
        o[y * S + x] = augmented_pixel(rgb, int(S), t, x, y, c) * scale - shift;
  });
}

}  // namespace

void CpuBackend::augment_batch(const Tensor& images, const Tensor& transforms,
                               const Normalization& norm, const Tensor& out) {
  check_augment_batch(images, transforms, out, device());
  const int64_t N = images.dim(0), S = images.dim(1);
  render_batch(threads_, images.data<uint8_t>(), nullptr, N, S, transforms.data<float>(), norm,
               out.data<float>());
}

void CpuBackend::gather_batch(const Tensor& images, const Tensor& all_labels, const Tensor& order,
                              const AugmentParams& augment, uint64_t epoch_seed,
                              const Normalization& norm, const Tensor& transforms,
                              const Tensor& labels, const Tensor& out) {
  check_gather_batch(images, all_labels, order, transforms, labels, out, device());
  const int64_t D = images.dim(0), S = images.dim(1), B = order.dim(0);
  const int32_t* index = order.data<int32_t>();
  for (int64_t k = 0; k < B; ++k) {
    SC_CHECK(index[k] >= 0 && index[k] < D, "gather_batch: order[", k, "] is ", index[k],
             ", outside the ", D, " images");
    const SampleTransform t = draw_sample_transform(augment, int(S), sample_seed(epoch_seed, index[k]));
    std::memcpy(transforms.data<float>() + k * kTransformFields, static_cast<const void*>(&t),
                sizeof t);
    labels.data<int32_t>()[k] = all_labels.data<int32_t>()[index[k]];
  }
  render_batch(threads_, images.data<uint8_t>(), index, B, S, transforms.data<float>(), norm,
               out.data<float>());
}

// ---------------------------------------------------------------- batch norm

namespace {

struct ChannelLayout {
  int64_t N, C, HW;
  int64_t count() const { return N * HW; }  // values per channel
};

ChannelLayout channel_layout(const char* op, const Tensor& x) {
  SC_CHECK(x.rank() == 4 || x.rank() == 2, op, ": argument 'x' has shape ", x.shape().str(),
           ", expected [N, C, H, W] or [N, C]");
  return {x.dim(0), x.dim(1), x.rank() == 4 ? x.dim(2) * x.dim(3) : 1};
}

}  // namespace

void CpuBackend::batch_norm_forward_training(const BatchNormParams& p, const Tensor& x,
                                             const Tensor& gamma, const Tensor& beta,
                                             const Tensor& running_mean, const Tensor& running_var,
                                             const Tensor& y, const Tensor& save_mean,
                                             const Tensor& save_invstd) {
  const char* op = "batch_norm_forward_training";
  const DType dt = float_dtype(op, x);
  const ChannelLayout L = channel_layout(op, x);
  SC_CHECK(L.count() > 1, op, ": x ", x.shape().str(),
           " has one value per channel; batch statistics need at least two");
  const Shape c{L.C};
  check_tensor(op, "gamma", gamma, device(), dt, c);
  check_tensor(op, "beta", beta, device(), dt, c);
  check_tensor(op, "running_mean", running_mean, device(), dt, c);
  check_tensor(op, "running_var", running_var, device(), dt, c);
  check_tensor(op, "save_mean", save_mean, device(), dt, c);
  check_tensor(op, "save_invstd", save_invstd, device(), dt, c);
  check_tensor(op, "y", y, device(), dt, x.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    const double m = static_cast<double>(L.count());
    parallel_for(threads_, L.C, L.count(), [&](int64_t ch) {
      double sum = 0;
      for (int64_t n = 0; n < L.N; ++n) {
        const T* row = xs + (n * L.C + ch) * L.HW;
        for (int64_t i = 0; i < L.HW; ++i)
          sum += row[i];
      }
      const double mean = sum / m;
      double sq = 0;  // two passes: the variance of data far from zero stays exact
      for (int64_t n = 0; n < L.N; ++n) {
        const T* row = xs + (n * L.C + ch) * L.HW;
        for (int64_t i = 0; i < L.HW; ++i)
          sq += (row[i] - mean) * (row[i] - mean);
      }
      const double var = sq / m;
      const double invstd = 1.0 / std::sqrt(var + p.eps);
      const double scale = gamma.data<T>()[ch] * invstd;
      const double shift = beta.data<T>()[ch] - mean * scale;
      for (int64_t n = 0; n < L.N; ++n) {
        const T* in = xs + (n * L.C + ch) * L.HW;
        T* out = ys + (n * L.C + ch) * L.HW;
        for (int64_t i = 0; i < L.HW; ++i)
          out[i] = static_cast<T>(in[i] * scale + shift);
      }
      save_mean.data<T>()[ch] = static_cast<T>(mean);
      save_invstd.data<T>()[ch] = static_cast<T>(invstd);
      T& rm = running_mean.data<T>()[ch];
      T& rv = running_var.data<T>()[ch];
      rm = static_cast<T>((1 - p.momentum) * rm + p.momentum * mean);
      rv = static_cast<T>((1 - p.momentum) * rv + p.momentum * var * m / (m - 1));
    });
  });
}

void CpuBackend::batch_norm_forward_inference(const BatchNormParams& p, const Tensor& x,
                                              const Tensor& gamma, const Tensor& beta,
                                              const Tensor& running_mean, const Tensor& running_var,
                                              const Tensor& y) {
  const char* op = "batch_norm_forward_inference";
  const DType dt = float_dtype(op, x);
  const ChannelLayout L = channel_layout(op, x);
  const Shape c{L.C};
  check_tensor(op, "gamma", gamma, device(), dt, c);
  check_tensor(op, "beta", beta, device(), dt, c);
  check_tensor(op, "running_mean", running_mean, device(), dt, c);
  check_tensor(op, "running_var", running_var, device(), dt, c);
  check_tensor(op, "y", y, device(), dt, x.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    parallel_for(threads_, L.N * L.C, L.HW, [&](int64_t plane) {
      const int64_t ch = plane % L.C;
      const double invstd = 1.0 / std::sqrt(double(running_var.data<T>()[ch]) + p.eps);
      const double scale = gamma.data<T>()[ch] * invstd;
      const double shift = beta.data<T>()[ch] - running_mean.data<T>()[ch] * scale;
      const T* in = x.data<T>() + plane * L.HW;
      T* out = y.data<T>() + plane * L.HW;
      for (int64_t i = 0; i < L.HW; ++i)
        out[i] = static_cast<T>(in[i] * scale + shift);
    });
  });
}

void CpuBackend::batch_norm_backward_inference(const BatchNormParams& p, const Tensor& dy,
                                               const Tensor& gamma, const Tensor& running_var,
                                               const Tensor& dx) {
  const char* op = "batch_norm_backward_inference";
  const DType dt = float_dtype(op, dy);
  const ChannelLayout L = channel_layout(op, dy);
  const Shape c{L.C};
  check_tensor(op, "gamma", gamma, device(), dt, c);
  check_tensor(op, "running_var", running_var, device(), dt, c);
  check_tensor(op, "dx", dx, device(), dt, dy.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    parallel_for(threads_, L.N * L.C, L.HW, [&](int64_t plane) {
      const int64_t ch = plane % L.C;
      const double k = gamma.data<T>()[ch] / std::sqrt(double(running_var.data<T>()[ch]) + p.eps);
      const T* g = dy.data<T>() + plane * L.HW;
      T* out = dx.data<T>() + plane * L.HW;
      for (int64_t i = 0; i < L.HW; ++i)
        out[i] = static_cast<T>(g[i] * k);
    });
  });
}

// With xhat = (x - mean) * invstd and M values per channel:
//   dbeta = sum dy,  dgamma = sum dy * xhat,
//   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma).
void CpuBackend::batch_norm_backward(const BatchNormParams&, const Tensor& x, const Tensor& dy,
                                     const Tensor& gamma, const Tensor& save_mean,
                                     const Tensor& save_invstd, const Tensor& dx,
                                     const Tensor& dgamma, const Tensor& dbeta) {
  const char* op = "batch_norm_backward";
  const DType dt = float_dtype(op, x);
  const ChannelLayout L = channel_layout(op, x);
  const Shape c{L.C};
  check_tensor(op, "dy", dy, device(), dt, x.shape());
  check_tensor(op, "gamma", gamma, device(), dt, c);
  check_tensor(op, "save_mean", save_mean, device(), dt, c);
  check_tensor(op, "save_invstd", save_invstd, device(), dt, c);
  check_tensor(op, "dx", dx, device(), dt, x.shape());
  check_tensor(op, "dgamma", dgamma, device(), dt, c);
  check_tensor(op, "dbeta", dbeta, device(), dt, c);
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    const double m = static_cast<double>(L.count());
    parallel_for(threads_, L.C, L.count(), [&](int64_t ch) {
      const double mean = save_mean.data<T>()[ch];
      const double invstd = save_invstd.data<T>()[ch];
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int64_t n = 0; n < L.N; ++n) {
        const int64_t off = (n * L.C + ch) * L.HW;
        for (int64_t i = 0; i < L.HW; ++i) {
          const double g = dy.data<T>()[off + i];
          sum_dy += g;
          sum_dy_xhat += g * (x.data<T>()[off + i] - mean) * invstd;
        }
      }
      const double k = gamma.data<T>()[ch] * invstd / m;
      for (int64_t n = 0; n < L.N; ++n) {
        const int64_t off = (n * L.C + ch) * L.HW;
        for (int64_t i = 0; i < L.HW; ++i) {
          const double xhat = (x.data<T>()[off + i] - mean) * invstd;
          dx.data<T>()[off + i] =
              static_cast<T>(k * (m * dy.data<T>()[off + i] - sum_dy - xhat * sum_dy_xhat));
        }
      }
      dgamma.data<T>()[ch] = static_cast<T>(sum_dy_xhat);
      dbeta.data<T>()[ch] = static_cast<T>(sum_dy);
    });
  });
}

// ---------------------------------------------------------------- activations and pooling

void CpuBackend::relu_forward(const Tensor& x, const Tensor& y) {
  const DType dt = float_dtype("relu_forward", x);
  check_tensor("relu_forward", "y", y, device(), dt, x.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    const int64_t n = x.numel();
    parallel_for(threads_, n, 1, [&](int64_t i) { out[i] = relu_element(in[i]); });
  });
}

void CpuBackend::relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  const DType dt = float_dtype("relu_backward", y);
  check_tensor("relu_backward", "dy", dy, device(), dt, y.shape());
  check_tensor("relu_backward", "dx", dx, device(), dt, y.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    const T* ys = y.data<T>();
    const T* g = dy.data<T>();
    T* out = dx.data<T>();
    const int64_t n = y.numel();
    parallel_for(threads_, n, 1, [&](int64_t i) { out[i] = relu_backward_element(ys[i], g[i]); });
  });
}

namespace {

// Calls visit(ih, iw) for each input position of output (oh, ow)'s window that is inside the
// image, in row-major order (so "first maximum" means the same thing in forward and backward).
template <typename Visit>
void for_each_window_tap(const Pool2dParams& p, int64_t H, int64_t W, int64_t oh, int64_t ow,
                         Visit&& visit) {
  const int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min<int64_t>(h0 + p.kernel_h, H); ++ih)
    for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min<int64_t>(w0 + p.kernel_w, W); ++iw)
      visit(ih, iw);
}

}  // namespace

void CpuBackend::max_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  const char* op = "max_pool2d_forward";
  const DType dt = float_dtype(op, x);
  const Shape ys = pool2d_output_shape(p, x.shape());
  check_tensor(op, "y", y, device(), dt, ys);
  const int64_t planes = ys[0] * ys[1], H = x.dim(2), W = x.dim(3), Ho = ys[2], Wo = ys[3];
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    parallel_for(threads_, planes, H * W, [&](int64_t pl) {
      const T* in = x.data<T>() + pl * H * W;
      T* out = y.data<T>() + pl * Ho * Wo;
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          for_each_window_tap(p, H, W, oh, ow, [&](int64_t ih, int64_t iw) {
            const T v = in[ih * W + iw];
            if (v > best || std::isnan(v)) best = v;  // NaN wins, as in PyTorch: it must show
          });
          out[oh * Wo + ow] = best;
        }
    });
  });
}

void CpuBackend::max_pool2d_backward(const Pool2dParams& p, const Tensor& x, const Tensor& dy,
                                     const Tensor& dx) {
  const char* op = "max_pool2d_backward";
  const DType dt = float_dtype(op, x);
  const Shape ys = pool2d_output_shape(p, x.shape());
  check_tensor(op, "dy", dy, device(), dt, ys);
  check_tensor(op, "dx", dx, device(), dt, x.shape());
  const int64_t planes = ys[0] * ys[1], H = x.dim(2), W = x.dim(3), Ho = ys[2], Wo = ys[3];
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    parallel_for(threads_, planes, H * W, [&](int64_t pl) {
      const T* in = x.data<T>() + pl * H * W;
      const T* g = dy.data<T>() + pl * Ho * Wo;
      T* out = dx.data<T>() + pl * H * W;
      std::fill(out, out + H * W, T(0));
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          int64_t arg = -1;
          for_each_window_tap(p, H, W, oh, ow, [&](int64_t ih, int64_t iw) {
            if (arg < 0 || in[ih * W + iw] > best || std::isnan(in[ih * W + iw])) {
              best = in[ih * W + iw];
              arg = ih * W + iw;
            }
          });
          out[arg] += g[oh * Wo + ow];
        }
    });
  });
}

void CpuBackend::global_avg_pool_forward(const Tensor& x, const Tensor& y) {
  const char* op = "global_avg_pool_forward";
  const DType dt = float_dtype(op, x);
  check_rank(op, "x", x, 4);
  check_tensor(op, "y", y, device(), dt, Shape{x.dim(0), x.dim(1)});
  const int64_t planes = x.dim(0) * x.dim(1), HW = x.dim(2) * x.dim(3);
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    parallel_for(threads_, planes, HW, [&](int64_t pl) {
      const T* in = x.data<T>() + pl * HW;
      double sum = 0;
      for (int64_t i = 0; i < HW; ++i)
        sum += in[i];
      y.data<T>()[pl] = static_cast<T>(sum / HW);
    });
  });
}

void CpuBackend::global_avg_pool_backward(const Tensor& dy, const Tensor& dx) {
  const char* op = "global_avg_pool_backward";
  const DType dt = float_dtype(op, dx);
  check_rank(op, "dx", dx, 4);
  check_tensor(op, "dy", dy, device(), dt, Shape{dx.dim(0), dx.dim(1)});
  const int64_t planes = dx.dim(0) * dx.dim(1), HW = dx.dim(2) * dx.dim(3);
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    parallel_for(threads_, planes, HW, [&](int64_t pl) {
      const T g = static_cast<T>(dy.data<T>()[pl] / T(HW));
      std::fill_n(dx.data<T>() + pl * HW, HW, g);
    });
  });
}

// ---------------------------------------------------------------- residual join

void CpuBackend::add_relu_forward(const Tensor& a, const Tensor& b, const Tensor& y) {
  const DType dt = float_dtype("add_relu_forward", a);
  check_tensor("add_relu_forward", "b", b, device(), dt, a.shape());
  check_tensor("add_relu_forward", "y", y, device(), dt, a.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    const T *pa = a.data<T>(), *pb = b.data<T>();
    T* out = y.data<T>();
    const int64_t n = a.numel();
    parallel_for(threads_, n, 1, [&](int64_t i) { out[i] = add_relu_element(pa[i], pb[i]); });
  });
}

void CpuBackend::add_relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dsum) {
  // The join's gradient is the ReLU's, read from the joined output.
  const DType dt = float_dtype("add_relu_backward", y);
  check_tensor("add_relu_backward", "dy", dy, device(), dt, y.shape());
  check_tensor("add_relu_backward", "dsum", dsum, device(), dt, y.shape());
  relu_backward(y, dy, dsum);
}

// ---------------------------------------------------------------- dense layer

void CpuBackend::linear_forward(const Tensor& x, const Tensor& w, const Tensor& b,
                                const Tensor& y) {
  const char* op = "linear_forward";
  const DType dt = float_dtype(op, x);
  check_rank(op, "x", x, 2);
  check_rank(op, "w", w, 2);
  SC_CHECK(w.dim(1) == x.dim(1), op, ": argument 'w' has shape ", w.shape().str(), " but x ",
           x.shape().str(), " has ", x.dim(1), " features");
  const int64_t N = x.dim(0), in = x.dim(1), out = w.dim(0);
  check_tensor(op, "w", w, device(), dt, Shape{out, in});
  check_tensor(op, "b", b, device(), dt, Shape{out});
  check_tensor(op, "y", y, device(), dt, Shape{N, out});
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    MatrixMap<T> Y(y.data<T>(), N, out);
    Y.noalias() =
        ConstMatrixMap<T>(x.data<T>(), N, in) * ConstMatrixMap<T>(w.data<T>(), out, in).transpose();
    Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b.data<T>(), out);
  });
}

void CpuBackend::linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy,
                                 const Tensor& dx, const Tensor& dw, const Tensor& db) {
  const char* op = "linear_backward";
  const DType dt = float_dtype(op, x);
  check_rank(op, "x", x, 2);
  check_rank(op, "w", w, 2);
  const int64_t N = x.dim(0), in = x.dim(1), out = w.dim(0);
  check_tensor(op, "w", w, device(), dt, Shape{out, in});
  check_tensor(op, "dy", dy, device(), dt, Shape{N, out});
  if (dx.defined()) check_tensor(op, "dx", dx, device(), dt, x.shape());
  if (dw.defined()) check_tensor(op, "dw", dw, device(), dt, w.shape());
  if (db.defined()) check_tensor(op, "db", db, device(), dt, Shape{out});
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    ConstMatrixMap<T> X(x.data<T>(), N, in), Wt(w.data<T>(), out, in), G(dy.data<T>(), N, out);
    if (dx.defined()) MatrixMap<T>(dx.data<T>(), N, in).noalias() = G * Wt;
    if (dw.defined()) MatrixMap<T>(dw.data<T>(), out, in).noalias() = G.transpose() * X;
    if (db.defined()) {
      Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(db.data<T>(), out) = G.colwise().sum();
    }
  });
}

// ---------------------------------------------------------------- loss

void CpuBackend::softmax_cross_entropy(const Tensor& logits, const Tensor& labels,
                                       float label_smoothing, const Tensor& loss,
                                       const Tensor& dlogits) {
  const char* op = "softmax_cross_entropy";
  const DType dt = float_dtype(op, logits);
  check_rank(op, "logits", logits, 2);
  const int64_t N = logits.dim(0), K = logits.dim(1);
  check_tensor(op, "labels", labels, device(), DType::i32, Shape{N});
  check_tensor(op, "loss", loss, device(), dt, Shape{1});
  if (dlogits.defined()) check_tensor(op, "dlogits", dlogits, device(), dt, logits.shape());
  SC_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f, op, ": label_smoothing ",
           label_smoothing, " is outside [0, 1]");
  SC_CHECK(N > 0 && K > 0, op, ": logits ", logits.shape().str(), " are empty");
  const int32_t* lab = labels.data<int32_t>();
  for (int64_t n = 0; n < N; ++n)
    SC_CHECK(lab[n] >= 0 && lab[n] < K, op, ": label ", lab[n], " of sample ", n,
             " is outside [0, ", K, ")");
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    const double on = 1.0 - label_smoothing + label_smoothing / K, off = label_smoothing / K;
    double total = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* z = logits.data<T>() + n * K;
      double zmax = z[0];
      for (int64_t k = 1; k < K; ++k)
        zmax = std::max<double>(zmax, z[k]);
      double sum = 0;
      for (int64_t k = 0; k < K; ++k)
        sum += std::exp(z[k] - zmax);
      const double lse = zmax + std::log(sum);
      double target_dot = 0;  // sum_k q_k z_k
      for (int64_t k = 0; k < K; ++k)
        target_dot += (k == lab[n] ? on : off) * z[k];
      total += lse - target_dot;
      if (dlogits.defined()) {
        T* d = dlogits.data<T>() + n * K;
        for (int64_t k = 0; k < K; ++k)
          d[k] = static_cast<T>((std::exp(z[k] - lse) - (k == lab[n] ? on : off)) / N);
      }
    }
    loss.data<T>()[0] = static_cast<T>(total / N);
  });
}

void CpuBackend::step_totals_acc(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                                 const Tensor& totals) {
  check_step_totals(logits, labels, loss, totals, device(), /*float64_allowed=*/true);
  const int64_t N = logits.dim(0), K = logits.dim(1);
  dispatch_float(logits.dtype(), [&](auto zero) {
    using T = decltype(zero);
    int64_t correct = 0;
    for (int64_t n = 0; n < N; ++n)
      correct += predicted_class(logits.data<T>() + n * K, K) == labels.data<int32_t>()[n];
    add_step_totals(totals.data<double>(), double(loss.data<T>()[0]), N, correct);
  });
}

// ---------------------------------------------------------------- optimizers

void CpuBackend::sgd_update(const SgdParams& p, const Tensor& params, const Tensor& grads,
                            const Tensor& momentum_buf) {
  apply_sgd("sgd_update", sgd_step(p), params, grads, momentum_buf);
}

void CpuBackend::sgd_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                                 const Tensor& momentum_buf) {
  check_tensor("sgd_update_from", "step", step, device(), DType::f32, Shape{kSgdStepFields});
  apply_sgd("sgd_update_from", sgd_step_from_fields(step.data<float>()), params, grads,
            momentum_buf);
}

void CpuBackend::apply_sgd(const char* op, const SgdStep& step, const Tensor& params,
                           const Tensor& grads, const Tensor& momentum_buf) {
  const DType dt = float_dtype(op, params);
  check_tensor(op, "grads", grads, device(), dt, params.shape());
  const bool momentum = step.momentum != 0.0f;
  if (momentum) check_tensor(op, "momentum_buf", momentum_buf, device(), dt, params.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    T* w = params.data<T>();
    const T* g = grads.data<T>();
    T* buf = momentum ? momentum_buf.data<T>() : nullptr;
    const int64_t n = params.numel();
    parallel_for(threads_, n, 1, [&](int64_t i) {
      T unused = 0;
      sgd_update_element(w[i], g[i], buf ? buf[i] : unused, step);
    });
  });
}

void CpuBackend::adamw_update(const AdamWParams& p, int64_t step, const Tensor& params,
                              const Tensor& grads, const Tensor& m, const Tensor& v) {
  apply_adamw("adamw_update", adamw_step(p, step), params, grads, m, v);
}

void CpuBackend::adamw_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                                   const Tensor& m, const Tensor& v) {
  check_tensor("adamw_update_from", "step", step, device(), DType::f32, Shape{kAdamWStepFields});
  apply_adamw("adamw_update_from", adamw_step_from_fields(step.data<float>()), params, grads, m,
              v);
}

void CpuBackend::apply_adamw(const char* op, const AdamWStep& s, const Tensor& params,
                             const Tensor& grads, const Tensor& m, const Tensor& v) {
  const DType dt = float_dtype(op, params);
  check_tensor(op, "grads", grads, device(), dt, params.shape());
  check_tensor(op, "m", m, device(), dt, params.shape());
  check_tensor(op, "v", v, device(), dt, params.shape());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    T *w = params.data<T>(), *ms = m.data<T>(), *vs = v.data<T>();
    const T* g = grads.data<T>();
    const int64_t n = params.numel();
    parallel_for(threads_, n, 1,
                 [&](int64_t i) { adamw_update_element(w[i], g[i], ms[i], vs[i], s); });
  });
}

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  // Every parallel region of the process (data preparation included) then uses one team size,
  // so the OpenMP runtime keeps reusing one team instead of building new ones.
  if (threads > 0) omp_set_num_threads(threads);
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace scenecam
