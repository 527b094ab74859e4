// CpuBackend convolution: im2col + Eigen matrix products, parallel over the images of the batch.
//
// Per image n and group g, with K = (C/groups)*kh*kw rows and P = Ho*Wo columns:
//   forward          y[n,g] (Og x P)  = w[g] (Og x K) * col(x[n,g]) (K x P)
//   backward data    dx[n,g]         <- col2im( w[g]^T (K x Og) * dy[n,g] (Og x P) )
//   backward filter  dw[g] (Og x K)  += dy[n,g] (Og x P) * col(x[n,g])^T (P x K)
// A 1x1 convolution with stride 1 and no padding needs no im2col: the image is its own col.
// Each thread owns a K x P column buffer (and, for the filter gradient, an Og x K partial sum per
// group) leased from the workspace pool for the duration of the call.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu/cpu_backend.hpp"
#include "cpu/eigen.hpp"
#include "scenecam/op_checks.hpp"

namespace scenecam {
namespace {

using cpu::ConstMatrixMap;
using cpu::MatrixMap;

struct ConvGeometry {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo, groups, Cg, Og, K, P;
  Conv2dParams p;
  bool direct;  // 1x1, stride 1, no padding: the input is already in column form
};

ConvGeometry conv_geometry(const Conv2dParams& p, const Shape& x, const Shape& w) {
  const Shape y = conv2d_output_shape(p, x, w);
  ConvGeometry g{};
  g.N = x[0]; g.C = x[1]; g.H = x[2]; g.W = x[3];
  g.O = w[0]; g.kh = w[2]; g.kw = w[3];
  g.Ho = y[2]; g.Wo = y[3];
  g.groups = p.groups;
  g.Cg = g.C / g.groups;
  g.Og = g.O / g.groups;
  g.K = g.Cg * g.kh * g.kw;
  g.P = g.Ho * g.Wo;
  g.p = p;
  g.direct = g.kh == 1 && g.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 &&
             p.pad_w == 0;
  return g;
}

// col[K, P] from one image's group of channels x[Cg, H, W]; taps that fall in the padding are 0.
template <typename T>
void im2col(const ConvGeometry& g, const T* x, T* col) {
  const Conv2dParams& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + ((c * g.kh + ki) * g.kw + kj) * g.P;
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          T* out = row + oh * g.Wo;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + g.Wo, T(0));
            continue;
          }
          const T* in = x + (c * g.H + ih) * g.W;
          for (int64_t ow = 0; ow < g.Wo; ++ow) {
            const int64_t iw = ow * p.stride_w - p.pad_w + kj * p.dilation_w;
            out[ow] = (iw >= 0 && iw < g.W) ? in[iw] : T(0);
          }
        }
      }
    }
  }
}

// The adjoint of im2col: adds every column entry back onto the input pixel it was read from.
template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, T* dx) {
  const Conv2dParams& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T* row = col + ((c * g.kh + ki) * g.kw + kj) * g.P;
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          const T* in = row + oh * g.Wo;
          T* out = dx + (c * g.H + ih) * g.W;
          for (int64_t ow = 0; ow < g.Wo; ++ow) {
            const int64_t iw = ow * p.stride_w - p.pad_w + kj * p.dilation_w;
            if (iw >= 0 && iw < g.W) out[iw] += in[ow];
          }
        }
      }
    }
  }
}

// The whole team, or the calling thread alone for a single image: never a team of another size
// (see parallel_for). Threads without an image idle through the loop.
int team_size(int threads, int64_t images) { return images > 1 ? threads : 1; }

// Runs body(n, thread) for every image n; `thread` indexes the per-thread scratch.
template <typename Body>
void for_each_image(int team, int64_t images, Body&& body) {
  if (team == 1) {
    for (int64_t n = 0; n < images; ++n) body(n, 0);
    return;
  }
#pragma omp parallel for num_threads(team) schedule(static)
  for (int64_t n = 0; n < images; ++n) body(n, omp_get_thread_num());
}

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y, T* cols, int team) {
  for_each_image(team, g.N, [&](int64_t n, int thread) {
    T* col = g.direct ? nullptr : cols + thread * g.K * g.P;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
      if (!g.direct) im2col(g, xg, col);
      MatrixMap<T>(y + (n * g.O + grp * g.Og) * g.P, g.Og, g.P).noalias() =
          ConstMatrixMap<T>(w + grp * g.Og * g.K, g.Og, g.K) *
          ConstMatrixMap<T>(g.direct ? xg : col, g.K, g.P);
    }
  });
}

template <typename T>
void conv_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx, T* cols, int team) {
  for_each_image(team, g.N, [&](int64_t n, int thread) {
    T* col = g.direct ? nullptr : cols + thread * g.K * g.P;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      T* dxg = dx + (n * g.C + grp * g.Cg) * g.H * g.W;
      MatrixMap<T>(g.direct ? dxg : col, g.K, g.P).noalias() =
          ConstMatrixMap<T>(w + grp * g.Og * g.K, g.Og, g.K).transpose() *
          ConstMatrixMap<T>(dy + (n * g.O + grp * g.Og) * g.P, g.Og, g.P);
      if (!g.direct) {
        std::fill(dxg, dxg + g.Cg * g.H * g.W, T(0));
        col2im_add(g, col, dxg);
      }
    }
  });
}

// Adds image n's contribution to the filter gradient into acc [O, K].
template <typename T>
void accumulate_filter_gradient(const ConvGeometry& g, const T* x, const T* dy, int64_t n, T* col,
                                T* acc) {
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
    if (!g.direct) im2col(g, xg, col);
    MatrixMap<T>(acc + grp * g.Og * g.K, g.Og, g.K).noalias() +=
        ConstMatrixMap<T>(dy + (n * g.O + grp * g.Og) * g.P, g.Og, g.P) *
        ConstMatrixMap<T>(g.direct ? xg : col, g.K, g.P).transpose();
  }
}

// Each thread sums its images into its own partial [O, K]; the partials are then added up.
// `partials` holds one per thread, or is unused with a team of one (dw is the accumulator).
template <typename T>
void conv_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* cols,
                          T* partials, int team) {
  const int64_t wsize = g.O * g.K;
  if (team == 1) {
    std::fill(dw, dw + wsize, T(0));
    for (int64_t n = 0; n < g.N; ++n) accumulate_filter_gradient(g, x, dy, n, cols, dw);
    return;
  }
#pragma omp parallel num_threads(team)
  {
    const int thread = omp_get_thread_num();
    T* part = partials + thread * wsize;
    std::fill(part, part + wsize, T(0));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n)
      accumulate_filter_gradient(g, x, dy, n, g.direct ? nullptr : cols + thread * g.K * g.P, part);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < wsize; ++i) {
      T sum = 0;
      for (int t = 0; t < team; ++t) sum += partials[t * wsize + i];
      dw[i] = sum;
    }
  }
}

// Leases `count` elements of T from the workspace (an empty lease when count is 0).
template <typename T>
T* lease(Pool& pool, Block& block, int64_t count, const char* what) {
  if (count == 0) return nullptr;
  block = pool.allocate(static_cast<size_t>(count) * sizeof(T), what);
  return static_cast<T*>(block.data());
}

}  // namespace

void CpuBackend::conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                                const Tensor& y) {
  const char* op = "conv2d_forward";
  const DType dt = float_dtype(op, x);
  check_tensor(op, "w", w, device(), dt);
  const ConvGeometry g = conv_geometry(p, x.shape(), w.shape());
  check_tensor(op, "y", y, device(), dt, conv2d_output_shape(p, x.shape(), w.shape()));
  check_layout(op, "y", y, Layout::rowmajor);
  const int team = team_size(threads_, g.N);
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    Block cols;
    T* c = lease<T>(*workspace_, cols, g.direct ? 0 : team * g.K * g.P, "conv2d columns");
    conv_forward(g, x.data<T>(), w.data<T>(), y.data<T>(), c, team);
  });
}

void CpuBackend::conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w,
                                      const Tensor& dx) {
  const char* op = "conv2d_backward_data";
  const DType dt = float_dtype(op, dx);
  check_tensor(op, "w", w, device(), dt);
  const ConvGeometry g = conv_geometry(p, dx.shape(), w.shape());
  check_tensor(op, "dy", dy, device(), dt, conv2d_output_shape(p, dx.shape(), w.shape()));
  check_layout(op, "dy", dy, Layout::rowmajor);
  const int team = team_size(threads_, g.N);
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    Block cols;
    T* c = lease<T>(*workspace_, cols, g.direct ? 0 : team * g.K * g.P, "conv2d columns");
    conv_backward_data(g, dy.data<T>(), w.data<T>(), dx.data<T>(), c, team);
  });
}

void CpuBackend::conv2d_backward_filter(const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                                        const Tensor& dw) {
  const char* op = "conv2d_backward_filter";
  const DType dt = float_dtype(op, x);
  check_tensor(op, "dw", dw, device(), dt);
  const ConvGeometry g = conv_geometry(p, x.shape(), dw.shape());
  check_tensor(op, "dy", dy, device(), dt, conv2d_output_shape(p, x.shape(), dw.shape()));
  check_layout(op, "dy", dy, Layout::rowmajor);
  const int team = team_size(threads_, g.N);
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    Block cols, partials;
    T* c = lease<T>(*workspace_, cols, g.direct ? 0 : team * g.K * g.P, "conv2d columns");
    T* part = lease<T>(*workspace_, partials, team > 1 ? team * g.O * g.K : 0,
                       "conv2d filter partials");
    conv_backward_filter(g, x.data<T>(), dy.data<T>(), dw.data<T>(), c, part, team);
  });
}

}  // namespace scenecam
