// Element-wise arithmetic shared by the CPU backend and the CUDA kernels.
//
// Each function here is the whole per-element math of an op; the CPU backend calls it in a loop
// and the CUDA kernel calls it from a thread, so CPU tests cover the arithmetic and the GPU code
// adds only indexing. Nothing here may allocate, branch on a device, or include a CUDA header:
// under nvcc SCENECAM_HD expands to __host__ __device__, elsewhere to nothing.
#pragma once

#include <cmath>

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

}  // namespace scenecam
