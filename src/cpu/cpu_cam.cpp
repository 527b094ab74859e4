// CpuBackend's Grad-CAM ops: channel weights, weighted sums, the gradient methods' raw maps,
// scaling and overlays. The per-element maths is cam_math.hpp's and elementwise.hpp's, shared
// with the CUDA kernels; reductions over a plane accumulate in double, as the CPU backend's do.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "internal/op_checks.hpp"
#include "scenecam/cam_math.hpp"

namespace scenecam {
namespace {

// One image's raw map [h*w] from its activations and gradients [c, h*w].
void gradient_cam_map(CamMethod m, const float* acts, const float* grads, int64_t c, int64_t hw,
                      float* map) {
  std::vector<double> sum(hw, 0.0);
  for (int64_t k = 0; k < c; ++k) {
    const float* A = acts + k * hw;
    const float* G = grads + k * hw;
    double weight = 0;
    if (cam_uses_channel_weights(m)) {
      double sum_a = 0;
      for (int64_t p = 0; p < hw; ++p)
        sum_a += A[p];
      for (int64_t p = 0; p < hw; ++p)
        weight += cam_weight_term<double>(m, G[p], A[p], sum_a);
      weight = cam_channel_weight(m, weight, hw);
    }
    for (int64_t p = 0; p < hw; ++p)
      sum[p] += cam_sum_term<double>(m, weight, G[p], A[p]);
  }
  for (int64_t p = 0; p < hw; ++p)
    map[p] = relu_element(static_cast<float>(sum[p]));
}

// pytorch-grad-cam's min-max: (x - min) / (max - min + 1e-7), in place.
void min_max(float* x, int64_t count) {
  const auto [lo, hi] = std::minmax_element(x, x + count);
  const float low = *lo, high = *hi;
  for (int64_t i = 0; i < count; ++i)
    x[i] = cam_min_max_element(x[i], low, high);
}

}  // namespace

void CpuBackend::cam_channel_weights(const Tensor& grads, const Tensor& weights) {
  // The channel weights are the global average pool of the gradients.
  const DType dt = float_dtype("cam_channel_weights", grads);
  check_rank("cam_channel_weights", "grads", grads, 4);
  check_tensor("cam_channel_weights", "weights", weights, device(), dt,
               Shape{grads.dim(0), grads.dim(1)});
  global_avg_pool_forward(grads, weights);
}

void CpuBackend::cam_weighted_sum_relu(const Tensor& acts, const Tensor& weights,
                                       const Tensor& cam) {
  const char* op = "cam_weighted_sum_relu";
  const DType dt = float_dtype(op, acts);
  check_rank(op, "acts", acts, 4);
  const int64_t N = acts.dim(0), C = acts.dim(1), HW = acts.dim(2) * acts.dim(3);
  check_tensor(op, "weights", weights, device(), dt, Shape{N, C});
  check_tensor(op, "cam", cam, device(), dt, Shape{N, acts.dim(2), acts.dim(3)});
  dispatch_float(dt, [&](auto zero) {
    using T = decltype(zero);
    parallel_for(threads_, N, C * HW, [&](int64_t n) {
      T* out = cam.data<T>() + n * HW;
      std::fill(out, out + HW, T(0));
      for (int64_t c = 0; c < C; ++c) {
        const T wc = weights.data<T>()[n * C + c];
        const T* a = acts.data<T>() + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i)
          out[i] += wc * a[i];
      }
      for (int64_t i = 0; i < HW; ++i)
        out[i] = out[i] > T(0) ? out[i] : T(0);
    });
  });
}

void CpuBackend::cam_maps(CamMethod method, const Tensor& acts, const Tensor& grads,
                          const Tensor& weights, const Tensor& cam) {
  const char* op = "cam_maps";
  check_rank(op, "acts", acts, 4);
  const int64_t N = acts.dim(0), C = acts.dim(1), h = acts.dim(2), w = acts.dim(3);
  check_tensor(op, "acts", acts, device(), DType::f32);
  check_tensor(op, "grads", grads, device(), DType::f32, acts.shape());
  check_tensor(op, "weights", weights, device(), DType::f32, Shape{N * C});
  check_tensor(op, "cam", cam, device(), DType::f32, Shape{N, h, w});
  SC_CHECK(is_gradient_cam(method), op, ": method ", int(method), " is not a gradient CAM method");
  parallel_for(threads_, N, C * h * w, [&](int64_t n) {
    gradient_cam_map(method, acts.data<float>() + n * C * h * w,
                     grads.data<float>() + n * C * h * w, C, h * w, cam.data<float>() + n * h * w);
  });
}

void CpuBackend::cam_overlay(const Tensor& maps, const Tensor& images, const Tensor& lut,
                             float image_weight, const Tensor& scratch, const Tensor& out) {
  const char* op = "cam_overlay";
  check_rank(op, "maps", maps, 3);
  const int64_t N = maps.dim(0), S = maps.dim(1);
  check_tensor(op, "maps", maps, device(), DType::f32, Shape{N, S, S});
  check_tensor(op, "images", images, device(), DType::u8, Shape{N, S, S, 3});
  check_tensor(op, "lut", lut, device(), DType::u8, Shape{256, 3});
  check_tensor(op, "scratch", scratch, device(), DType::f32, Shape{N});
  check_tensor(op, "out", out, device(), DType::u8, Shape{N, S, S, 3});
  const float* m = maps.data<float>();
  const uint8_t* px = images.data<uint8_t>();
  uint8_t* o = out.data<uint8_t>();
  for (int64_t n = 0; n < N; ++n) {
    float hi = 0;
    for (int64_t p = 0; p < S * S; ++p)
      for (int c = 0; c < 3; ++c)
        hi = std::max(hi, cam_blend_element(m[n * S * S + p], lut.data<uint8_t>(),
                                            px[(n * S * S + p) * 3 + c], c, image_weight));
    scratch.data<float>()[n] = hi;
    for (int64_t p = 0; p < S * S; ++p)
      for (int c = 0; c < 3; ++c) {
        const float v = cam_blend_element(m[n * S * S + p], lut.data<uint8_t>(),
                                          px[(n * S * S + p) * 3 + c], c, image_weight);
        o[(n * S * S + p) * 3 + c] = static_cast<uint8_t>(255.0f * (v / hi));
      }
  }
}

void CpuBackend::cam_scale(const Tensor& cam, const Tensor& scratch, const Tensor& out) {
  const char* op = "cam_scale";
  check_rank(op, "cam", cam, 3);
  check_rank(op, "out", out, 3);
  check_tensor(op, "cam", cam, device(), DType::f32);
  check_tensor(op, "out", out, device(), DType::f32);
  SC_CHECK(out.dim(0) == cam.dim(0), op, ": out ", out.shape().str(), " and cam ",
           cam.shape().str(), " hold different numbers of maps");
  check_tensor(op, "scratch", scratch, device(), DType::f32, Shape{cam.numel()});
  const int64_t N = cam.dim(0), h = cam.dim(1), w = cam.dim(2), H = out.dim(1), W = out.dim(2);
  parallel_for(threads_, N, H * W, [&](int64_t n) {
    float* small = scratch.data<float>() + n * h * w;
    std::copy_n(cam.data<float>() + n * h * w, h * w, small);
    min_max(small, h * w);
    float* big = out.data<float>() + n * H * W;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        big[y * W + x] = relu_element(resize_bilinear_pixel(small, h, w, H, W, x, y));
    min_max(big, H * W);
  });
}

void CpuBackend::explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base,
                                 const Tensor& maps, uint64_t seed, const Tensor& out) {
  check_explain_perturb(x, plan, base, maps, out, device());
  const int64_t M = out.dim(0), N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t m = maps.dim(1), h = maps.dim(2), w = maps.dim(3), per = C * H * W;
  parallel_for(threads_, M, per, [&](int64_t j) {
    const float* row = plan.data<float>() + j * kPlanFields;
    float* o = out.data<float>() + j * per;
    if (!perturb_row_valid(row, N, m)) {
      std::fill_n(o, per, std::nanf(""));
      return;
    }
    const int64_t src = static_cast<int64_t>(row[0]);
    const float* in = x.data<float>() + src * per;
    const float* planes = maps.data<float>() + src * m * h * w;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < W; ++xx) {
          const int64_t i = (c * H + y) * W + xx;
          o[i] = perturb_element(row, in[i], base.data<float>()[c], c, y, xx, H, W, planes, h, w,
                                 seed, j * per + i);
        }
  });
}

}  // namespace scenecam
