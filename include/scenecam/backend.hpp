// The Backend seam: every numeric operation of the engine, declared once.
//
// Two implementations: CpuBackend (src/cpu/, the reference: plain C++, Eigen, OpenMP) and the
// CUDA backend (cuda/). Layers, models, the trainer and the explainers call only this interface.
//
// Conventions for every op:
//   - inputs come first, outputs last; tensors are views, so outputs are passed as const Tensor&
//     and written through;
//   - outputs are overwritten, never accumulated into, unless the op's name ends in "_acc" or its
//     comment says so (gradients of a shared input are summed by the caller with add_);
//   - activations are [N, C, H, W] (logical shape; NCHW in memory for now), filters
//     [O, I/g, kh, kw], dense weights [out, in] as torchvision stores them;
//   - a tensor on the wrong device, of the wrong dtype or of the wrong shape is an Error that names
//     the op, the argument, and both shapes;
//   - scratch memory comes from the backend's own workspace pool (workspace_stats()), which sizes
//     itself during the first step and is not touched by the allocator afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "scenecam/cam_math.hpp"
#include "scenecam/elementwise.hpp"
#include "scenecam/pool.hpp"
#include "scenecam/tensor.hpp"

namespace scenecam {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
};

// [N, O, Ho, Wo] for input x [N, C, H, W] and filter w [O, C/groups, kh, kw]; throws on a
// mismatch or an empty output.
Shape conv2d_output_shape(const Conv2dParams& p, const Shape& x, const Shape& w);

// The three passes of a convolution, for the benchmarks' and the CUDA backend's plans.
enum class ConvPass { forward, backward_data, backward_filter };

struct Pool2dParams {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
};

// [N, C, Ho, Wo] with floor rounding, as cuDNN and PyTorch (ceil_mode=False).
Shape pool2d_output_shape(const Pool2dParams& p, const Shape& x);

struct BatchNormParams {
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch (PyTorch)
  double eps = 1e-5;
};

struct SgdParams {
  float lr = 0.1f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  bool decoupled_weight_decay = false;
};

struct AdamWParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.01f;
};

// The per-element step parameters an update applies, as both backends build them. AdamW's bias
// corrections (1 - beta^t) are computed here once per step, in double.
SgdStep sgd_step(const SgdParams& p);
AdamWStep adamw_step(const AdamWParams& p, int64_t step);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;
  // Statistics of the backend's scratch memory (im2col buffers, cuDNN workspace).
  virtual PoolStats workspace_stats() const = 0;

  // Waits until every op issued so far has finished (a no-op on the CPU). Benchmarks and host
  // reads of results call it; the training step does not.
  virtual void synchronize() {}

  // A fixed pool of host memory for staging transfers to and from the device (page-locked on a
  // GPU; plain memory on the CPU backend).
  virtual std::unique_ptr<Pool> make_staging_pool(std::string name, size_t capacity) {
    return make_host_pool(std::move(name), capacity, false);
  }

  // Uploads that do not wait: copy_async queues a copy from staging memory to this backend's
  // device and returns; upload_mark() marks the copies queued so far and wait_uploads(mark)
  // returns once they are done, so the staging memory may be written again. The defaults copy at
  // once (the CPU backend).
  virtual void copy_async(const Tensor& src, const Tensor& dst) { copy(src, dst); }
  virtual uint64_t upload_mark() { return 0; }
  virtual void wait_uploads(uint64_t mark) { (void)mark; }

  // Bytes of device memory free now; 0 for the CPU backend, whose data already lies in its memory.
  virtual size_t device_memory_free() { return 0; }

  // A pool of the backend's device memory (host memory for the CPU backend).
  virtual std::unique_ptr<Pool> make_pool(std::string name, size_t capacity, bool growable) = 0;

  // ---- utilities ----
  virtual void fill(const Tensor& t, double value) = 0;
  // Copies between equal-shaped tensors; either side may be in host memory or on this backend's
  // device (the upload/download path).
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  // dst += src (element-wise, same shape): sums the gradients of an input used twice.
  virtual void add_(const Tensor& dst, const Tensor& src) = 0;

  // ---- input pipeline ----
  // Renders a batch for the network: images u8 [N, S, S, 3] (RGB), transforms f32
  // [N, kTransformFields] (one SampleTransform per image: crop, flip) -> out f32 [N, 3, S, S],
  // normalised. The per-pixel arithmetic is augmented_pixel(), shared by both backends.
  virtual void augment_batch(const Tensor& images, const Tensor& transforms,
                             const Normalization& norm, const Tensor& out) = 0;

  // A batch of a dataset kept on the device, with no host work: images u8 [D, S, S, 3] and
  // all_labels i32 [D] hold every sample; sample k of the batch is image order[k] (order: i32 [B]).
  // Writes labels[k] = all_labels[order[k]], transforms[k] (f32 [B, kTransformFields]) =
  // draw_sample_transform(augment, S, sample_seed(epoch_seed, order[k])), the identity for
  // AugmentParams{}, and out [B, 3, S, S] as augment_batch renders those images. An index outside
  // [0, D) is an Error on the CPU; on a GPU it makes that sample's label -1 and image NaN, so the
  // loss becomes NaN.
  virtual void gather_batch(const Tensor& images, const Tensor& all_labels, const Tensor& order,
                            const AugmentParams& augment, uint64_t epoch_seed,
                            const Normalization& norm, const Tensor& transforms,
                            const Tensor& labels, const Tensor& out) = 0;

  // ---- convolution (cross-correlation, as every framework calls it) ----
  virtual void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                              const Tensor& y) = 0;
  virtual void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w,
                                    const Tensor& dx) = 0;
  virtual void conv2d_backward_filter(const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                                      const Tensor& dw) = 0;

  // ---- batch normalisation over (N, H, W) per channel ----
  // Training: normalises with the batch statistics, writes y, the batch mean and inverse standard
  // deviation (saved for backward), and updates running_mean / running_var in place (running_var
  // takes the unbiased batch variance, as PyTorch).
  virtual void batch_norm_forward_training(const BatchNormParams& p, const Tensor& x,
                                           const Tensor& gamma, const Tensor& beta,
                                           const Tensor& running_mean, const Tensor& running_var,
                                           const Tensor& y, const Tensor& save_mean,
                                           const Tensor& save_invstd) = 0;
  // Inference: normalises with the running statistics.
  virtual void batch_norm_forward_inference(const BatchNormParams& p, const Tensor& x,
                                            const Tensor& gamma, const Tensor& beta,
                                            const Tensor& running_mean, const Tensor& running_var,
                                            const Tensor& y) = 0;
  // Backward of the inference forward, which is affine per channel: dx = dy * gamma /
  // sqrt(running_var + eps). (Explanations differentiate a model in inference mode.)
  virtual void batch_norm_backward_inference(const BatchNormParams& p, const Tensor& dy,
                                             const Tensor& gamma, const Tensor& running_var,
                                             const Tensor& dx) = 0;
  // Backward of the training forward, with the forward's parameters (cuDNN wants its epsilon).
  virtual void batch_norm_backward(const BatchNormParams& p, const Tensor& x, const Tensor& dy,
                                   const Tensor& gamma, const Tensor& save_mean,
                                   const Tensor& save_invstd, const Tensor& dx,
                                   const Tensor& dgamma, const Tensor& dbeta) = 0;

  // ---- activations and pooling ----
  virtual void relu_forward(const Tensor& x, const Tensor& y) = 0;  // y may alias x
  virtual void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) = 0;  // from y
  virtual void max_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y) = 0;
  // Routes each output gradient to the first maximum of its window (recomputed from x).
  virtual void max_pool2d_backward(const Pool2dParams& p, const Tensor& x, const Tensor& dy,
                                   const Tensor& dx) = 0;
  // [N, C, H, W] -> [N, C]
  virtual void global_avg_pool_forward(const Tensor& x, const Tensor& y) = 0;
  virtual void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) = 0;

  // ---- residual join: y = relu(a + b) ----
  virtual void add_relu_forward(const Tensor& a, const Tensor& b, const Tensor& y) = 0;
  // d(a) = d(b) = dy * (y > 0): one tensor, which the caller sends down both branches.
  virtual void add_relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dsum) = 0;

  // ---- dense layer: y[N, out] = x[N, in] w[out, in]^T + b[out] ----
  virtual void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b,
                              const Tensor& y) = 0;
  // Any of dx, dw, db may be undefined (not wanted).
  virtual void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                               const Tensor& dw, const Tensor& db) = 0;

  // ---- loss: mean over the batch of -sum_k q_k log softmax(logits)_k, with
  //      q = (1 - smoothing) * onehot(label) + smoothing / K (PyTorch's label_smoothing).
  // Fused: writes the loss (a 1-element tensor, so no host sync) and dlogits = (softmax - q) / N.
  // labels: i32 [N], each in [0, K). dlogits may be undefined (evaluation).
  virtual void softmax_cross_entropy(const Tensor& logits, const Tensor& labels,
                                     float label_smoothing, const Tensor& loss,
                                     const Tensor& dlogits) = 0;

  // Adds one step to running totals kept on the device (StepTotalsField, elementwise.hpp): the
  // batch's loss (loss [1], as softmax_cross_entropy wrote it) times its size, the number of rows
  // of logits [N, K] whose predicted_class is labels [N] (i32), N, the step count, and the first
  // step whose loss was not finite. totals: f64 [kStepTotalsFields], accumulated into; the host
  // reads it when it wants to, so a step need not wait for the device.
  virtual void step_totals_acc(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                               const Tensor& totals) = 0;

  // ---- optimizer updates over whole flat arenas (params, grads, state: same shape) ----
  virtual void sgd_update(const SgdParams& p, const Tensor& params, const Tensor& grads,
                          const Tensor& momentum_buf) = 0;
  // step: the 1-based step count, for the bias corrections.
  virtual void adamw_update(const AdamWParams& p, int64_t step, const Tensor& params,
                            const Tensor& grads, const Tensor& m, const Tensor& v) = 0;

  // The same updates with the step's numbers read from `step`, f32 [kSgdStepFields]
  // (sgd_step_to_fields) or [kAdamWStepFields] (adamw_step_to_fields) in this backend's memory, by
  // the update itself: a recorded step (record_step) then replays with each step's learning rate.
  // momentum_buf may be undefined only if every step it runs with has momentum 0.
  virtual void sgd_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                               const Tensor& momentum_buf) = 0;
  virtual void adamw_update_from(const Tensor& step, const Tensor& params, const Tensor& grads,
                                 const Tensor& m, const Tensor& v) = 0;

  // ---- recorded steps (CUDA graphs) ----
  // Records the ops that `ops` issues, without running them, as one graph; replay() runs them again
  // on the same tensors, so whatever must change between replays (the batch, the learning rate)
  // has to be in device memory that the ops read. `ops` may issue no host transfer, allocation
  // from a pool that grows, or wait. Returns nullptr where the backend records nothing (the
  // CPU): the caller then runs `ops` itself.
  class RecordedStep {
   public:
    virtual ~RecordedStep() = default;
    virtual void replay() = 0;
  };
  virtual std::unique_ptr<RecordedStep> record_step(const std::function<void()>& ops) {
    (void)ops;
    return nullptr;
  }

  // ---- Grad-CAM core ----
  // weights[N, C] = spatial mean of grads[N, C, H, W].
  virtual void cam_channel_weights(const Tensor& grads, const Tensor& weights) = 0;
  // cam[N, H, W] = relu(sum_c weights[n, c] * acts[n, c, :, :]).
  virtual void cam_weighted_sum_relu(const Tensor& acts, const Tensor& weights,
                                     const Tensor& cam) = 0;
  // The raw map of a gradient CAM method (is_gradient_cam; cam_math.hpp has the formulas),
  // cam[N, h, w], from acts and grads [N, C, h, w]. `weights` is scratch of N * C floats.
  virtual void cam_maps(CamMethod method, const Tensor& acts, const Tensor& grads,
                        const Tensor& weights, const Tensor& cam) = 0;
  // pytorch-grad-cam's show_cam_on_image for a batch: heat = lut[uint8(255 * map)] (a 256-entry
  // colour table, 3 bytes each, in the images' channel order), blend = (1 - image_weight) *
  // heat / 255 + image_weight * image / 255, out = uint8(255 * blend / max(blend)) per image
  // (uint8() truncates, as NumPy's does). maps f32 [N, S, S], images and out u8 [N, S, S, 3],
  // lut u8 [256, 3], scratch f32 [N].
  virtual void cam_overlay(const Tensor& maps, const Tensor& images, const Tensor& lut,
                           float image_weight, const Tensor& scratch, const Tensor& out) = 0;
  // pytorch-grad-cam's scaling of raw maps cam[N, h, w] to out[N, H, W] in [0, 1]: per image
  // (x - min) / (max(x - min) + 1e-7), bilinear resize (half-pixel centres, clamped borders),
  // ReLU, and the same min-max again. `scratch` holds N * h * w floats.
  virtual void cam_scale(const Tensor& cam, const Tensor& scratch, const Tensor& out) = 0;
  // The perturbed copies of the many-forward explanations, out[M, C, H, W] from x[N, C, H, W]:
  // copy j as plan row j ([M, kPlanFields] f32: source, Perturb kind, p0..p3) describes it, with
  // perturb_element (cam_math.hpp). base [C] is the fill (blend's baseline, patch's colour),
  // maps [N, m, h, w] the planes that mask copies read, noise is drawn from `seed`.
  virtual void explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base,
                               const Tensor& maps, uint64_t seed, const Tensor& out) = 0;
};

// threads <= 0: use every core OpenMP offers; otherwise this also sets the process's OpenMP
// thread count, so every parallel region uses the same team.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

}  // namespace scenecam
