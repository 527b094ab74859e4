// Element-wise arithmetic shared by the CPU backend and the CUDA kernels.
//
// Each function here is the whole per-element math of an op; the CPU backend calls it in a loop
// and the CUDA kernel calls it from a thread, so CPU tests cover the arithmetic and the GPU code
// adds only indexing. Nothing here may allocate, branch on a device, or include a CUDA header:
// under nvcc SCENECAM_HD expands to __host__ __device__, elsewhere to nothing.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SCENECAM_HD __host__ __device__ __forceinline__
#else
#define SCENECAM_HD inline
#endif

namespace scenecam {

// Hyper-parameters of one SGD step, in the form the per-element update reads them.
struct SgdStep {
  float lr;
  float momentum;      // 0 disables the momentum buffer
  float weight_decay;  // 0 disables decay
  bool nesterov;
  bool decoupled;  // true: p *= (1 - lr*wd) (SGDW); false: grad += wd*p (L2, torch.optim.SGD)
};

// torch.optim.SGD semantics, with dampening 0. The buffer starts at zero, which gives buf = g on
// the first step exactly as PyTorch's lazy initialisation does.
template <typename T>
SCENECAM_HD void sgd_update_element(T& param, T grad, T& momentum_buf, const SgdStep& s) {
  if (s.weight_decay != 0) {
    if (s.decoupled) {
      param *= T(1) - T(s.lr) * T(s.weight_decay);
    } else {
      grad += T(s.weight_decay) * param;
    }
  }
  if (s.momentum != 0) {
    momentum_buf = T(s.momentum) * momentum_buf + grad;
    grad = s.nesterov ? grad + T(s.momentum) * momentum_buf : momentum_buf;
  }
  param -= T(s.lr) * grad;
}

// Hyper-parameters of one AdamW step; the bias corrections are computed once per step by the
// caller (1 - beta^t), not once per element.
struct AdamWStep {
  float lr;
  float beta1;
  float beta2;
  float eps;
  float weight_decay;
  float bias_correction1;  // 1 - beta1^t
  float bias_correction2;  // 1 - beta2^t
};

// torch.optim.AdamW semantics (amsgrad off): decoupled decay, then the Adam step.
template <typename T>
SCENECAM_HD void adamw_update_element(T& param, T grad, T& m, T& v, const AdamWStep& s) {
  param *= T(1) - T(s.lr) * T(s.weight_decay);
  m = T(s.beta1) * m + (T(1) - T(s.beta1)) * grad;
  v = T(s.beta2) * v + (T(1) - T(s.beta2)) * grad * grad;
  const T m_hat = m / T(s.bias_correction1);
  const T v_hat = v / T(s.bias_correction2);
  param -= T(s.lr) * m_hat / (std::sqrt(v_hat) + T(s.eps));
}

// An optimizer step's numbers as a row of floats, so an update can read them from device memory
// and a recorded step (Backend::record_step) replays with the numbers of the step it runs as.
// SGD: lr, momentum, weight_decay, nesterov (0 or 1), decoupled (0 or 1). AdamW: AdamWStep's
// members in their order.
constexpr int kSgdStepFields = 5;
constexpr int kAdamWStepFields = 7;

SCENECAM_HD SgdStep sgd_step_from_fields(const float* f) {
  return SgdStep{f[0], f[1], f[2], f[3] != 0, f[4] != 0};
}
inline void sgd_step_to_fields(const SgdStep& s, float* f) {
  const float fields[kSgdStepFields] = {s.lr, s.momentum, s.weight_decay, s.nesterov ? 1.0f : 0.0f,
                                        s.decoupled ? 1.0f : 0.0f};
  for (int i = 0; i < kSgdStepFields; ++i) f[i] = fields[i];
}
SCENECAM_HD AdamWStep adamw_step_from_fields(const float* f) {
  return AdamWStep{f[0], f[1], f[2], f[3], f[4], f[5], f[6]};
}
inline void adamw_step_to_fields(const AdamWStep& s, float* f) {
  const float fields[kAdamWStepFields] = {s.lr,           s.beta1,           s.beta2,          s.eps,
                                          s.weight_decay, s.bias_correction1, s.bias_correction2};
  for (int i = 0; i < kAdamWStepFields; ++i) f[i] = fields[i];
}

// ReLU that lets NaN through (as PyTorch's does), so a diverging run shows in its loss instead
// of being silently zeroed.
template <typename T>
SCENECAM_HD T relu_element(T x) {
  return x < T(0) ? T(0) : x;
}

// Residual join: y = max(a + b, 0), NaN passing through.
template <typename T>
SCENECAM_HD T add_relu_element(T a, T b) {
  return relu_element(a + b);
}

// Gradient through a ReLU, read from its output: the unit passed the signal iff y > 0.
template <typename T>
SCENECAM_HD T relu_backward_element(T y, T dy) {
  return y > T(0) ? dy : T(0);
}

// Per-channel normalisation of pixel / 255: (x - mean) / std.
struct Normalization {
  float mean[3] = {0.485f, 0.456f, 0.406f};  // ImageNet's, as torchvision uses
  float std[3] = {0.229f, 0.224f, 0.225f};
};

// Where one augmented sample reads its pixels: output pixel (x, y) comes from source position
// (x0 + (x + 0.5) * sx - 0.5, y0 + (y + 0.5) * sy - 0.5), mirrored first when flip is set.
// Six floats, the row layout of the transforms tensor that augment_batch takes.
struct SampleTransform {
  float x0 = 0, y0 = 0;  // the crop's top-left corner in source pixels (negative: into padding)
  float sx = 1, sy = 1;  // source pixels per output pixel
  float flip = 0;        // 1: mirror horizontally
  float bilinear = 0;    // 1: interpolate (resized crops); 0: copy pixels (padded crops, identity)
};
constexpr int kTransformFields = 6;

// ---- augmentation parameters, drawn the same way on the host and on the device ----

// SplitMix64's finaliser: a bijective mix of 64 bits (every seed of the engine is made with it).
SCENECAM_HD uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The seed of sample `index`'s augmentation in the epoch whose seed is epoch_seed.
SCENECAM_HD uint64_t sample_seed(uint64_t epoch_seed, int64_t index) {
  return mix64(epoch_seed ^ mix64(static_cast<uint64_t>(index)));
}

// data.augment as plain numbers a kernel can take. crop none and flip 0: the identity.
struct AugmentParams {
  enum Crop : int { none = 0, pad = 1, resized = 2 };
  int crop = none;
  int padding = 0;                         // pad: pixels of zero padding on each side
  double scale_min = 0.35, scale_max = 1;  // resized: the share of the area kept
  int flip = 0;                            // 1: mirror half the samples
};

// A sample's stream of uniform numbers: SplitMix64 steps from the sample's seed.
struct SampleRandom {
  uint64_t state;
  SCENECAM_HD uint64_t next() { return mix64(state++); }
  SCENECAM_HD double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  SCENECAM_HD int below(int n) {  // uniform in [0, n)
    const int k = static_cast<int>(unit() * n);
    return k < n ? k : n - 1;
  }
};

// The transform of one training sample from its seed: a random crop of the zero-padded image
// (torchvision's RandomCrop with padding) or RandomResizedCrop (an area share and a log-uniform
// aspect ratio in [3/4, 4/3], ten tries, then the whole image), then a horizontal flip with
// probability 1/2. The host and the device draw the same numbers; the sizes come from exp and
// sqrt of them, which a GPU may round in the last bit otherwise than the host's libm, so a
// crop's side can differ only when it lies within that bit of a half-pixel boundary.
SCENECAM_HD SampleTransform draw_sample_transform(const AugmentParams& a, int size, uint64_t seed) {
  SampleRandom r{seed};
  SampleTransform t;
  if (a.crop == AugmentParams::pad) {
    t.x0 = static_cast<float>(r.below(2 * a.padding + 1) - a.padding);
    t.y0 = static_cast<float>(r.below(2 * a.padding + 1) - a.padding);
  } else if (a.crop == AugmentParams::resized) {
    const double area = double(size) * size;
    const double log_lo = -0.2876820724517809, log_hi = 0.28768207245178085;  // log(3/4), log(4/3)
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * (a.scale_min + (a.scale_max - a.scale_min) * r.unit());
      const double ratio = exp(log_lo + (log_hi - log_lo) * r.unit());
      const int w = static_cast<int>(llround(sqrt(target * ratio)));
      const int h = static_cast<int>(llround(sqrt(target / ratio)));
      if (w <= 0 || h <= 0 || w > size || h > size) continue;
      t.x0 = static_cast<float>(r.below(size - w + 1));
      t.y0 = static_cast<float>(r.below(size - h + 1));
      t.sx = float(w) / size;
      t.sy = float(h) / size;
      t.bilinear = 1;
      break;
    }
  }
  t.flip = a.flip && r.unit() < 0.5 ? 1.0f : 0.0f;
  return t;
}

// The one bilinear sampler (augmentation here, map resizing in cam_math.hpp): the value at
// (fx, fy) of a w x h grid read through at(x, y), from the neighbours floor(f) and floor(f) + 1,
// the latter clamped to the last column and row. Callers place and clamp (fx, fy) as their op
// requires; at() decides what lies outside the grid.
template <typename At>
SCENECAM_HD float bilinear_sample(const At& at, float fx, float fy, int w, int h) {
  const int ix = int(floorf(fx)), iy = int(floorf(fy));
  const float ax = fx - ix, ay = fy - iy;
  const int ix1 = ix + 1 < w ? ix + 1 : w - 1, iy1 = iy + 1 < h ? iy + 1 : h - 1;
  return (1 - ay) * ((1 - ax) * at(ix, iy) + ax * at(ix1, iy)) +
         ay * ((1 - ax) * at(ix, iy1) + ax * at(ix1, iy1));
}

// Channel c of augmented output pixel (x, y) of an S x S RGB uint8 image, before normalisation.
// Pixels outside the source are black (zero padding).
SCENECAM_HD float augmented_pixel(const uint8_t* rgb, int S, const SampleTransform& t, int x, int y,
                                  int c) {
  if (t.flip != 0) x = S - 1 - x;
  auto at = [&](int px, int py) -> float {
    return (px < 0 || py < 0 || px >= S || py >= S) ? 0.0f : float(rgb[(py * S + px) * 3 + c]);
  };
  if (t.bilinear == 0) return at(int(t.x0) + x, int(t.y0) + y);
  // Half-pixel centres, clamped to the crop.
  float fx = t.x0 + (x + 0.5f) * t.sx - 0.5f, fy = t.y0 + (y + 0.5f) * t.sy - 0.5f;
  fx = fminf(fmaxf(fx, t.x0), t.x0 + t.sx * S - 1);
  fy = fminf(fmaxf(fy, t.y0), t.y0 + t.sy * S - 1);
  return bilinear_sample(at, fx, fy, S, S);
}

// One channel of show_cam_on_image's blend before the final rescale, in [0, 1].
SCENECAM_HD float cam_blend_element(float map, const uint8_t* lut, uint8_t pixel, int channel,
                                    float image_weight) {
  const int index = int(255.0f * map);  // NumPy's uint8() truncates
  const int clamped = index < 0 ? 0 : (index > 255 ? 255 : index);
  return (1.0f - image_weight) * (lut[clamped * 3 + channel] / 255.0f) +
         image_weight * (pixel / 255.0f);
}

// ---- running totals of classification steps (Backend::step_totals_acc) ----
// One f64 row of kStepTotalsFields that the step adds to on the device, so the trainer reads its
// loss and accuracy every train.log_every steps instead of after every step.
enum StepTotalsField : int {
  kTotalLoss = 0,     // sum over steps of (batch mean loss) * (batch size)
  kTotalCorrect = 1,  // samples whose predicted class is their label
  kTotalSeen = 2,     // samples
  kTotalSteps = 3,    // steps added since the totals were zeroed
  kFirstBadStep = 4,  // 1-based step (of those) whose loss was first not finite; 0 while none
  kFirstBadLoss = 5,  // and that loss
};
constexpr int kStepTotalsFields = 6;

// The predicted class of a row of K logits: the first maximum, as std::max_element finds it (a
// NaN never compares larger, so a row of NaN predicts class 0).
template <typename T>
SCENECAM_HD int64_t predicted_class(const T* row, int64_t K) {
  int64_t best = 0;
  for (int64_t k = 1; k < K; ++k)
    if (row[best] < row[k]) best = k;
  return best;
}

// Adds one step of `rows` samples, mean loss `loss` and `correct` right predictions to totals.
SCENECAM_HD void add_step_totals(double* totals, double loss, int64_t rows, int64_t correct) {
  totals[kTotalSteps] += 1;
  const double magnitude = loss < 0 ? -loss : loss;
  const bool finite = magnitude <= 1.7976931348623157e308;  // false for NaN and infinities
  if (!finite && totals[kFirstBadStep] == 0) {
    totals[kFirstBadStep] = totals[kTotalSteps];
    totals[kFirstBadLoss] = loss;
  }
  totals[kTotalLoss] += loss * double(rows);
  totals[kTotalCorrect] += double(correct);
  totals[kTotalSeen] += double(rows);
}

}  // namespace scenecam
