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
#include <type_traits>

#include "cpu/cpu_backend.hpp"
#include "cpu/eigen.hpp"
#include "internal/op_checks.hpp"

namespace scenecam {
namespace {

using cpu::ConstMatrixMap;
using cpu::MatrixMap;

struct ConvGeometry {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo, groups, Cg, Og, K, P;
  Conv2dParams p;
  bool direct;          // 1x1, stride 1, no padding: the input is already in column form
  int64_t tile_rows;    // output rows per column tile (of one image)
  int64_t tile_images;  // > 1: whole images per column tile, for outputs narrower than a tile
  int64_t tile_cols() const { return tile_images > 1 ? tile_images * P : tile_rows * Wo; }
  int64_t tiles() const { return tile_images > 1 ? (N + tile_images - 1) / tile_images : N; }
};

// im2col works on tiles of whole output rows, so the column buffer of a large image (K x P is
// 7 MB per image at ResNet's layer1) stays cache-sized, but never on fewer than kMinTileCols
// columns, below which the matrix products lose more than the smaller buffer gains.
//
// Deep layers of small images have fewer output pixels than that (layer4 of a 64x64 input: 2x2):
// one image per matrix product would read the whole filter (9.4 MB at layer4) for a handful of
// columns. There a tile holds the columns of several whole images, up to kImageTileCols columns
// but no more images than keep every thread busy, and the filter is read once per tile.
constexpr int64_t kColumnTileElems = 1 << 20;
constexpr int64_t kMinTileCols = 256;
constexpr int64_t kImageTileCols = 1024;

// threads: the team the convolution will run with (the tiling keeps each thread a tile).
ConvGeometry conv_geometry(const Conv2dParams& p, const Shape& x, const Shape& w, int threads) {
  const Shape y = conv2d_output_shape(p, x, w);
  ConvGeometry g{};
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.O = w[0];
  g.kh = w[2];
  g.kw = w[3];
  g.Ho = y[2];
  g.Wo = y[3];
  g.groups = p.groups;
  g.Cg = g.C / g.groups;
  g.Og = g.O / g.groups;
  g.K = g.Cg * g.kh * g.kw;
  g.P = g.Ho * g.Wo;
  g.p = p;
  g.direct =
      g.kh == 1 && g.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  const int64_t rows_in_budget = kColumnTileElems / (g.K * g.Wo);
  const int64_t rows_for_min_cols = (kMinTileCols + g.Wo - 1) / g.Wo;
  g.tile_rows =
      g.direct ? g.Ho : std::clamp<int64_t>(std::max(rows_in_budget, rows_for_min_cols), 1, g.Ho);
  g.tile_images = 1;
  if (!g.direct && g.P < kMinTileCols && g.N > 1) {
    const int64_t per_thread = (g.N + std::max(threads, 1) - 1) / std::max(threads, 1);
    const int64_t in_budget = kColumnTileElems / (g.K * g.P);
    g.tile_images = std::clamp<int64_t>(std::min(kImageTileCols / g.P, in_budget), 1, per_thread);
  }
  return g;
}

// col[K, (oh1 - oh0) * Wo] (rows `ld` apart): the columns of output rows [oh0, oh1) from one
// image's group of channels x[Cg, H, W]; taps that fall in the padding are 0.
template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t oh0, int64_t oh1, T* col, int64_t ld) {
  const Conv2dParams& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + ((c * g.kh + ki) * g.kw + kj) * ld;
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          T* out = row + (oh - oh0) * g.Wo;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + g.Wo, T(0));
            continue;
          }
          const T* in = x + (c * g.H + ih) * g.W;
          const int64_t shift = kj * p.dilation_w - p.pad_w;  // iw = ow * stride + shift
          if (p.stride_w == 1) {
            // A contiguous run of the input row, zero where it overhangs the image.
            const int64_t lo = std::clamp<int64_t>(-shift, 0, g.Wo);
            const int64_t hi = std::clamp<int64_t>(g.W - shift, lo, g.Wo);
            std::fill(out, out + lo, T(0));
            std::copy(in + lo + shift, in + hi + shift, out + lo);
            std::fill(out + hi, out + g.Wo, T(0));
            continue;
          }
          for (int64_t ow = 0; ow < g.Wo; ++ow) {
            const int64_t iw = ow * p.stride_w + shift;
            out[ow] = (iw >= 0 && iw < g.W) ? in[iw] : T(0);
          }
        }
      }
    }
  }
}

// The adjoint of im2col: adds every column entry of output rows [oh0, oh1) back onto the input
// pixel it was read from.
template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, int64_t oh0, int64_t oh1, T* dx, int64_t ld) {
  const Conv2dParams& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T* row = col + ((c * g.kh + ki) * g.kw + kj) * ld;
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          const T* in = row + (oh - oh0) * g.Wo;
          T* out = dx + (c * g.H + ih) * g.W;
          const int64_t shift = kj * p.dilation_w - p.pad_w;
          if (p.stride_w == 1) {
            const int64_t lo = std::clamp<int64_t>(-shift, 0, g.Wo);
            const int64_t hi = std::clamp<int64_t>(g.W - shift, lo, g.Wo);
            for (int64_t ow = lo; ow < hi; ++ow)
              out[ow + shift] += in[ow];
            continue;
          }
          for (int64_t ow = 0; ow < g.Wo; ++ow) {
            const int64_t iw = ow * p.stride_w + shift;
            if (iw >= 0 && iw < g.W) out[iw] += in[ow];
          }
        }
      }
    }
  }
}

// The whole team, or the calling thread alone for a single tile: never a team of another size
// (see parallel_for). Threads without a tile idle through the loop.
int team_size(int threads, int64_t tiles) {
  return tiles > 1 ? threads : 1;
}

// Runs body(tile, thread) for every tile; `thread` indexes the per-thread scratch.
template <typename Body>
void for_each_tile(int team, int64_t tiles, Body&& body) {
  if (team == 1) {
    for (int64_t t = 0; t < tiles; ++t)
      body(t, 0);
    return;
  }
#pragma omp parallel for num_threads(team) schedule(static)
  for (int64_t t = 0; t < tiles; ++t)
    body(t, omp_get_thread_num());
}

// The images [n0, n1) of a tile of whole images.
std::pair<int64_t, int64_t> tile_images(const ConvGeometry& g, int64_t tile) {
  const int64_t n0 = tile * g.tile_images;
  return {n0, std::min(n0 + g.tile_images, g.N)};
}

// Group grp's channels of images [n0, n1) of a tensor [N, O, P], to or from one block
// [Og, (n1 - n0) * P] whose columns are the images' pixels side by side.
template <typename T>
void images_to_block(const ConvGeometry& g, const T* images, int64_t n0, int64_t n1, int64_t grp,
                     T* block) {
  const int64_t ld = (n1 - n0) * g.P;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t o = 0; o < g.Og; ++o)
      std::copy_n(images + (n * g.O + grp * g.Og + o) * g.P, g.P, block + o * ld + (n - n0) * g.P);
}
template <typename T>
void block_to_images(const ConvGeometry& g, const T* block, int64_t n0, int64_t n1, int64_t grp,
                     T* images) {
  const int64_t ld = (n1 - n0) * g.P;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t o = 0; o < g.Og; ++o)
      std::copy_n(block + o * ld + (n - n0) * g.P, g.P, images + (n * g.O + grp * g.Og + o) * g.P);
}

// The columns of group grp of whole images [n0, n1): col [K, (n1 - n0) * P].
template <typename T>
void im2col_images(const ConvGeometry& g, const T* x, int64_t n0, int64_t n1, int64_t grp, T* col) {
  const int64_t ld = (n1 - n0) * g.P;
  for (int64_t n = n0; n < n1; ++n)
    im2col(g, x + (n * g.C + grp * g.Cg) * g.H * g.W, 0, g.Ho, col + (n - n0) * g.P, ld);
}

// A row-major view of columns [first, first + cols) of a matrix with `stride` columns (const
// when T is).
template <typename T>
auto column_block(T* base, int64_t rows, int64_t first, int64_t cols, int64_t stride) {
  using Matrix =
      std::conditional_t<std::is_const_v<T>, const cpu::RowMatrix<std::remove_const_t<T>>,
                         cpu::RowMatrix<T>>;
  return Eigen::Map<Matrix, Eigen::Unaligned, Eigen::OuterStride<>>(base + first, rows, cols,
                                                                    Eigen::OuterStride<>(stride));
}

// Per-thread scratch: cols holds K x tile_cols() per thread; stage, used by tiles of whole
// images only, Og x tile_cols() per thread.
template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y, T* cols, T* stage,
                  int team) {
  for_each_tile(team, g.tiles(), [&](int64_t tile, int thread) {
    T* col = g.direct ? nullptr : cols + thread * g.K * g.tile_cols();
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      ConstMatrixMap<T> wg(w + grp * g.Og * g.K, g.Og, g.K);
      if (g.tile_images > 1) {
        const auto [n0, n1] = tile_images(g, tile);
        const int64_t cols_t = (n1 - n0) * g.P;
        T* out = stage + thread * g.Og * g.tile_cols();
        im2col_images(g, x, n0, n1, grp, col);
        MatrixMap<T>(out, g.Og, cols_t).noalias() = wg * ConstMatrixMap<T>(col, g.K, cols_t);
        block_to_images(g, out, n0, n1, grp, y);
        continue;
      }
      const int64_t n = tile;
      const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
      T* yg = y + (n * g.O + grp * g.Og) * g.P;
      if (g.direct) {
        MatrixMap<T>(yg, g.Og, g.P).noalias() = wg * ConstMatrixMap<T>(xg, g.K, g.P);
        continue;
      }
      for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += g.tile_rows) {
        const int64_t oh1 = std::min(oh0 + g.tile_rows, g.Ho), cols_t = (oh1 - oh0) * g.Wo;
        im2col(g, xg, oh0, oh1, col, cols_t);
        column_block(yg, g.Og, oh0 * g.Wo, cols_t, g.P).noalias() =
            wg * ConstMatrixMap<T>(col, g.K, cols_t);
      }
    }
  });
}

template <typename T>
void conv_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx, T* cols, T* stage,
                        int team) {
  for_each_tile(team, g.tiles(), [&](int64_t tile, int thread) {
    T* col = g.direct ? nullptr : cols + thread * g.K * g.tile_cols();
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      ConstMatrixMap<T> wg(w + grp * g.Og * g.K, g.Og, g.K);
      if (g.tile_images > 1) {
        const auto [n0, n1] = tile_images(g, tile);
        const int64_t cols_t = (n1 - n0) * g.P;
        T* grad = stage + thread * g.Og * g.tile_cols();
        images_to_block(g, dy, n0, n1, grp, grad);
        MatrixMap<T>(col, g.K, cols_t).noalias() =
            wg.transpose() * ConstMatrixMap<T>(grad, g.Og, cols_t);
        for (int64_t n = n0; n < n1; ++n) {
          T* dxg = dx + (n * g.C + grp * g.Cg) * g.H * g.W;
          std::fill(dxg, dxg + g.Cg * g.H * g.W, T(0));
          col2im_add(g, col + (n - n0) * g.P, 0, g.Ho, dxg, cols_t);
        }
        continue;
      }
      const int64_t n = tile;
      T* dxg = dx + (n * g.C + grp * g.Cg) * g.H * g.W;
      const T* dyg = dy + (n * g.O + grp * g.Og) * g.P;
      if (g.direct) {
        MatrixMap<T>(dxg, g.K, g.P).noalias() = wg.transpose() * ConstMatrixMap<T>(dyg, g.Og, g.P);
        continue;
      }
      std::fill(dxg, dxg + g.Cg * g.H * g.W, T(0));
      for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += g.tile_rows) {
        const int64_t oh1 = std::min(oh0 + g.tile_rows, g.Ho), cols_t = (oh1 - oh0) * g.Wo;
        MatrixMap<T>(col, g.K, cols_t).noalias() =
            wg.transpose() * column_block(dyg, g.Og, oh0 * g.Wo, cols_t, g.P);
        col2im_add(g, col, oh0, oh1, dxg, cols_t);
      }
    }
  });
}

// Adds one tile's contribution to the filter gradient into acc [O, K].
template <typename T>
void accumulate_filter_gradient(const ConvGeometry& g, const T* x, const T* dy, int64_t tile,
                                T* col, T* stage, T* acc) {
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    MatrixMap<T> accg(acc + grp * g.Og * g.K, g.Og, g.K);
    if (g.tile_images > 1) {
      const auto [n0, n1] = tile_images(g, tile);
      const int64_t cols_t = (n1 - n0) * g.P;
      images_to_block(g, dy, n0, n1, grp, stage);
      im2col_images(g, x, n0, n1, grp, col);
      accg.noalias() +=
          ConstMatrixMap<T>(stage, g.Og, cols_t) * ConstMatrixMap<T>(col, g.K, cols_t).transpose();
      continue;
    }
    const int64_t n = tile;
    const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
    const T* dyg = dy + (n * g.O + grp * g.Og) * g.P;
    if (g.direct) {
      accg.noalias() +=
          ConstMatrixMap<T>(dyg, g.Og, g.P) * ConstMatrixMap<T>(xg, g.K, g.P).transpose();
      continue;
    }
    for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += g.tile_rows) {
      const int64_t oh1 = std::min(oh0 + g.tile_rows, g.Ho), cols_t = (oh1 - oh0) * g.Wo;
      im2col(g, xg, oh0, oh1, col, cols_t);
      accg.noalias() += column_block(dyg, g.Og, oh0 * g.Wo, cols_t, g.P) *
                        ConstMatrixMap<T>(col, g.K, cols_t).transpose();
    }
  }
}

// Each thread sums its tiles into its own partial [O, K]; the partials are then added up.
// `partials` holds one per thread, or is unused with a team of one (dw is the accumulator).
template <typename T>
void conv_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* cols, T* stage,
                          T* partials, int team) {
  const int64_t wsize = g.O * g.K;
  if (team == 1) {
    std::fill(dw, dw + wsize, T(0));
    for (int64_t t = 0; t < g.tiles(); ++t)
      accumulate_filter_gradient(g, x, dy, t, cols, stage, dw);
    return;
  }
#pragma omp parallel num_threads(team)
  {
    const int thread = omp_get_thread_num();
    T* part = partials + thread * wsize;
    std::fill(part, part + wsize, T(0));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.tiles(); ++t)
      accumulate_filter_gradient(g, x, dy, t,
                                 g.direct ? nullptr : cols + thread * g.K * g.tile_cols(),
                                 stage ? stage + thread * g.Og * g.tile_cols() : nullptr, part);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < wsize; ++i) {
      T sum = 0;
      for (int t = 0; t < team; ++t)
        sum += partials[t * wsize + i];
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

std::string CpuBackend::conv_algorithm(const Conv2dParams& p, const Shape& x, const Shape& w,
                                       ConvPass pass) {
  const ConvGeometry g = conv_geometry(p, x, w, threads_);
  (void)pass;  // all three passes use the same column form
  if (g.direct) return "gemm (1x1, no im2col)";
  if (g.tile_images > 1) return "im2col+gemm, " + std::to_string(g.tile_images) + " images/tile";
  return "im2col+gemm";
}

namespace {

// The per-thread scratch of one call, leased from the workspace for its duration.
template <typename T>
struct ConvScratch {
  Block col_block, stage_block, partial_block;
  T *cols = nullptr, *stage = nullptr, *partials = nullptr;
  ConvScratch(Pool& workspace, const ConvGeometry& g, int team, bool filter_partials) {
    cols =
        lease<T>(workspace, col_block, g.direct ? 0 : team * g.K * g.tile_cols(), "conv2d columns");
    stage = lease<T>(workspace, stage_block, g.tile_images > 1 ? team * g.Og * g.tile_cols() : 0,
                     "conv2d image tile");
    partials =
        lease<T>(workspace, partial_block, filter_partials && team > 1 ? team * g.O * g.K : 0,
                 "conv2d filter partials");
  }
};

}  // namespace

void CpuBackend::conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                                const Tensor& y) {
  const char* op = "conv2d_forward";
  const DType dt = float_dtype(op, x);
  check_tensor(op, "w", w, device(), dt);
  const ConvGeometry g = conv_geometry(p, x.shape(), w.shape(), threads_);
  check_tensor(op, "y", y, device(), dt, conv2d_output_shape(p, x.shape(), w.shape()));
  check_layout(op, "y", y, Layout::rowmajor);
  const int team = team_size(threads_, g.tiles());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    ConvScratch<T> s(*workspace_, g, team, false);
    conv_forward(g, x.data<T>(), w.data<T>(), y.data<T>(), s.cols, s.stage, team);
  });
}

void CpuBackend::conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w,
                                      const Tensor& dx) {
  const char* op = "conv2d_backward_data";
  const DType dt = float_dtype(op, dx);
  check_tensor(op, "w", w, device(), dt);
  const ConvGeometry g = conv_geometry(p, dx.shape(), w.shape(), threads_);
  check_tensor(op, "dy", dy, device(), dt, conv2d_output_shape(p, dx.shape(), w.shape()));
  check_layout(op, "dy", dy, Layout::rowmajor);
  const int team = team_size(threads_, g.tiles());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    ConvScratch<T> s(*workspace_, g, team, false);
    conv_backward_data(g, dy.data<T>(), w.data<T>(), dx.data<T>(), s.cols, s.stage, team);
  });
}

void CpuBackend::conv2d_backward_filter(const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                                        const Tensor& dw) {
  const char* op = "conv2d_backward_filter";
  const DType dt = float_dtype(op, x);
  check_tensor(op, "dw", dw, device(), dt);
  const ConvGeometry g = conv_geometry(p, x.shape(), dw.shape(), threads_);
  check_tensor(op, "dy", dy, device(), dt, conv2d_output_shape(p, x.shape(), dw.shape()));
  check_layout(op, "dy", dy, Layout::rowmajor);
  const int team = team_size(threads_, g.tiles());
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    ConvScratch<T> s(*workspace_, g, team, true);
    conv_backward_filter(g, x.data<T>(), dy.data<T>(), dw.data<T>(), s.cols, s.stage, s.partials,
                         team);
  });
}

}  // namespace scenecam
