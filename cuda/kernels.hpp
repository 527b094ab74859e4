// Launchers of scenecam's custom CUDA kernels. Each takes device pointers, sizes and the stream;
// each launches through launch_kernel (launch.cuh), which checks the launch. Layouts are the
// Backend's: row-major NCHW, flat arenas for optimizers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "scenecam/cam_math.hpp"
#include "scenecam/elementwise.hpp"

namespace scenecam::cuda {

// Threads per block for the element-wise and reduction kernels. 256 keeps several blocks per SM
// resident on every architecture we target and is a multiple of the warp size.
constexpr int kBlock = 256;

// augment.cu: u8 images + transforms [n, kTransformFields] -> f32 [n, 3, size, size]; output k
// reads image order[k] of the `count` [size, size, 3] images (image k when order is null).
void launch_augment(const uint8_t* images, const int32_t* order, int64_t count,
                    const float* transforms, const Normalization& norm, float* out, int64_t n,
                    int size, cudaStream_t stream);
// augment.cu: the transforms and labels of a batch of a resident dataset (Backend::gather_batch).
void launch_draw_batch(const int32_t* all_labels, int64_t count, const int32_t* order,
                       const AugmentParams& augment, uint64_t epoch_seed, int size,
                       float* transforms, int32_t* labels, int64_t n, cudaStream_t stream);

// batch_norm.cu: inference-mode backward, dx = dy * gamma[c] / sqrt(var[c] + eps).
void launch_batch_norm_backward_inference(const float* dy, const float* gamma, const float* var,
                                          float eps, float* dx, int64_t n, int64_t channels,
                                          int64_t hw, cudaStream_t stream);

// elementwise.cu
void launch_fill(float* x, int64_t n, float value, cudaStream_t stream);
void launch_fill_i32(int32_t* x, int64_t n, int32_t value, cudaStream_t stream);
void launch_add_inplace(float* dst, const float* src, int64_t n, cudaStream_t stream);

// elementwise.cu: ReLU that lets NaN through (shared with the CPU backend's relu_element).
void launch_relu_forward(const float* x, float* y, int64_t n, cudaStream_t stream);
void launch_relu_backward(const float* y, const float* dy, float* dx, int64_t n,
                          cudaStream_t stream);

// elementwise.cu: y = relu(a + b); its backward is relu_backward on y.
void launch_add_relu_forward(const float* a, const float* b, float* y, int64_t n,
                             cudaStream_t stream);

// global_pool.cu: [planes, hw] -> [planes] means and back; the Grad-CAM weighted sum.
void launch_global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t hw,
                                    cudaStream_t stream);
void launch_global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t hw,
                                     cudaStream_t stream);
void launch_cam_weighted_sum_relu(const float* acts, const float* weights, float* cam, int64_t n,
                                  int64_t c, int64_t hw, cudaStream_t stream);

// cam_maps.cu: raw gradient-CAM maps (as Backend::cam_maps), weights scratch n * c.
void launch_cam_maps(CamMethod method, const float* acts, const float* grads, float* weights,
                     float* cam, int64_t n, int64_t c, int64_t hw, cudaStream_t stream);

// cam_overlay.cu: show_cam_on_image over n images of `per` pixels; hi is scratch of n floats.
void launch_cam_overlay(const float* maps, const uint8_t* images, const uint8_t* lut, float weight,
                        float* hi, uint8_t* out, int64_t n, int64_t per, cudaStream_t stream);

// cam_scale.cu: raw maps [n, h, w] -> [n, H, W] in [0, 1] (min-max, resize, ReLU, min-max).
void launch_cam_scale(const float* cam, float* scratch, float* out, int64_t n, int64_t h, int64_t w,
                      int64_t H, int64_t W, cudaStream_t stream);

// explain_perturb.cu: perturbed copies out[M, C, H, W] of x[N, C, H, W] by plan [M, 6], with
// fill base[C] and mask planes maps[N, m, h, w] (as Backend::explain_perturb).
void launch_explain_perturb(const float* x, const float* plan, const float* base,
                            const float* maps, float* out, int64_t M, int64_t N, int64_t C,
                            int64_t H, int64_t W, int64_t m, int64_t h, int64_t w, uint64_t seed,
                            cudaStream_t stream);

// linear_bias.cu: y[n, o] += b[o]; db[o] = sum_n dy[n, o].
void launch_add_bias_rows(float* y, const float* b, int64_t rows, int64_t cols,
                          cudaStream_t stream);
void launch_sum_rows(const float* dy, float* db, int64_t rows, int64_t cols, cudaStream_t stream);

// softmax_ce.cu: fused softmax cross-entropy. row_loss is scratch of `rows` floats; dlogits may be
// null. A label outside [0, cols) makes the loss NaN (the host cannot be told without a sync).
void launch_softmax_cross_entropy(const float* logits, const int32_t* labels, float smoothing,
                                  float* row_loss, float* loss, float* dlogits, int64_t rows,
                                  int64_t cols, cudaStream_t stream);

// softmax_ce.cu: adds one step to the running totals (as Backend::step_totals_acc); one block.
void launch_step_totals(const float* logits, const int32_t* labels, const float* loss,
                        double* totals, int64_t rows, int64_t cols, cudaStream_t stream);

// optimizer.cu: one launch over a whole flat arena.
void launch_sgd_update(float* params, const float* grads, float* momentum, int64_t n,
                       const SgdStep& step, cudaStream_t stream);
void launch_adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                         const AdamWStep& step, cudaStream_t stream);
// The same with the step's fields in device memory (Backend::sgd_update_from, adamw_update_from).
void launch_sgd_update(float* params, const float* grads, float* momentum, int64_t n,
                       const float* step_fields, cudaStream_t stream);
void launch_adamw_update(float* params, const float* grads, float* m, float* v, int64_t n,
                         const float* step_fields, cudaStream_t stream);

}  // namespace scenecam::cuda
