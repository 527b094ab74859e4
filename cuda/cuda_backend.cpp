// CudaBackend: the Backend seam on an NVIDIA GPU. cuDNN (legacy API, behind this file's own
// helpers so the graph API can replace it) for convolution, batch norm and max pooling; cuBLAS for
// the dense layer; custom kernels (kernels.hpp) for everything else. One stream, one cuDNN and one
// cuBLAS handle bound to it. Scratch (cuDNN workspace, recomputed pooling outputs, per-row losses)
// comes from a growable device pool that sizes itself during the first step; after that no call
// here reaches cudaMalloc. Convolution algorithms are chosen once per shape and cached.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>

#include "check.hpp"
#include "kernels.hpp"
#include "scenecam/cuda_backend.hpp"
#include "scenecam/op_checks.hpp"

namespace scenecam {
namespace {

class DeviceAllocator final : public RawAllocator {
 public:
  explicit DeviceAllocator(int device) : device_(device) {}
  void* allocate(size_t bytes) override {
    void* ptr = nullptr;
    const cudaError_t status = cudaMalloc(&ptr, bytes);
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error state of a failed allocation
      throw OutOfMemory("cudaMalloc of " + std::to_string(bytes) + " bytes on cuda:" +
                        std::to_string(device_) + " failed: " + cudaGetErrorString(status));
    }
    return ptr;
  }
  void deallocate(void* ptr) override { cudaFree(ptr); }
  Device device() const override { return Device::cuda(device_); }

 private:
  int device_;
};

// Page-locked host memory: transfers from it run at full bus speed and need no bounce buffer.
class PinnedAllocator final : public RawAllocator {
 public:
  void* allocate(size_t bytes) override {
    void* ptr = nullptr;
    const cudaError_t status = cudaMallocHost(&ptr, bytes);
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw OutOfMemory("cudaMallocHost of " + std::to_string(bytes) +
                        " bytes failed: " + cudaGetErrorString(status));
    }
    return ptr;
  }
  void deallocate(void* ptr) override { cudaFreeHost(ptr); }
  Device device() const override { return Device::cpu(); }
};

float* f32(const Tensor& t) {
  return static_cast<float*>(t.raw());
}
const float* cf32(const Tensor& t) {
  return static_cast<const float*>(t.raw());
}

// The cached choice for one convolution shape and pass.
struct ConvPlan {
  int algo = 0;
  size_t workspace = 0;
};

using ConvKey = std::tuple<int, std::array<int64_t, 8>, std::array<int, 7>>;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaOptions& o) : options_(o) {
    SC_CUDA_CHECK(cudaSetDevice(o.device));
    SC_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SC_CUDNN_CHECK(cudnnCreate(&dnn_));
    SC_CUDNN_CHECK(cudnnSetStream(dnn_, stream_));
    SC_CUBLAS_CHECK(cublasCreate(&blas_));
    SC_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
    SC_CUBLAS_CHECK(
        cublasSetMathMode(blas_, o.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
    for (cudnnTensorDescriptor_t* d : {&a_desc_, &b_desc_, &c_desc_})
      SC_CUDNN_CHECK(cudnnCreateTensorDescriptor(d));
    SC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_desc_));
    SC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_desc_));
    SC_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pool_desc_));
    workspace_ = make_pool("cuda workspace", 0, /*growable=*/true);
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    workspace_.reset();
    cudnnDestroyPoolingDescriptor(pool_desc_);
    cudnnDestroyConvolutionDescriptor(conv_desc_);
    cudnnDestroyFilterDescriptor(w_desc_);
    for (cudnnTensorDescriptor_t d : {a_desc_, b_desc_, c_desc_})
      cudnnDestroyTensorDescriptor(d);
    if (relu_desc_) cudnnDestroyActivationDescriptor(relu_desc_);
    if (timer_start_) cudaEventDestroy(timer_start_);
    if (timer_stop_) cudaEventDestroy(timer_stop_);
    cublasDestroy(blas_);
    cudnnDestroy(dnn_);
    cudaStreamDestroy(stream_);
  }

  void synchronize() override { SC_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  double time_seconds(const std::function<void()>& fn) override {
    if (!timer_start_) {
      SC_CUDA_CHECK(cudaEventCreate(&timer_start_));
      SC_CUDA_CHECK(cudaEventCreate(&timer_stop_));
    }
    SC_CUDA_CHECK(cudaEventRecord(timer_start_, stream_));
    fn();
    SC_CUDA_CHECK(cudaEventRecord(timer_stop_, stream_));
    SC_CUDA_CHECK(cudaEventSynchronize(timer_stop_));
    float ms = 0;
    SC_CUDA_CHECK(cudaEventElapsedTime(&ms, timer_start_, timer_stop_));
    return ms * 1e-3;
  }

  std::string conv_algorithm(const Conv2dParams& p, const Shape& x, const Shape& w,
                             int pass) override {
    set_conv(p, x, w, conv2d_output_shape(p, x, w));
    const ConvPlan plan = conv_plan(pass, p, x, w);
    static const char* const kForward[] = {
        "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
        "WINOGRAD",      "WINOGRAD_NONFUSED"};
    static const char* const kData[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                        "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    static const char* const kFilter[] = {
        "ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
    const char* const* names = pass == 0 ? kForward : pass == 1 ? kData : kFilter;
    const int count = pass == 0 ? 8 : pass == 1 ? 6 : 7;
    std::string name = plan.algo >= 0 && plan.algo < count ? names[plan.algo]
                                                           : "algo " + std::to_string(plan.algo);
    char ws[48];
    std::snprintf(ws, sizeof ws, " (ws %.1f MiB)", plan.workspace / 1048576.0);
    return name + ws;
  }

  Device device() const override { return Device::cuda(options_.device); }
  std::string name() const override { return "cuda"; }
  PoolStats workspace_stats() const override { return workspace_->stats(); }
  std::unique_ptr<Pool> make_staging_pool(std::string name, size_t capacity) override {
    return std::make_unique<Pool>(std::move(name), std::make_unique<PinnedAllocator>(), capacity,
                                  false);
  }
  std::unique_ptr<Pool> make_pool(std::string name, size_t capacity, bool growable) override {
    return std::make_unique<Pool>(
        std::move(name), std::make_unique<DeviceAllocator>(options_.device), capacity, growable);
  }

  // ---- utilities ----

  void fill(const Tensor& t, double value) override {
    SC_CHECK(t.defined() && t.device() == device(), "fill: tensor ", t.str(), " is not on ",
             device().str());
    if (t.dtype() == DType::f32) {
      cuda::launch_fill(f32(t), t.numel(), static_cast<float>(value), stream_);
    } else if (t.dtype() == DType::i32) {
      cuda::launch_fill_i32(static_cast<int32_t*>(t.raw()), t.numel(), static_cast<int32_t>(value),
                            stream_);
    } else {
      fail("fill: the cuda backend fills f32 and i32 tensors, not ", dtype_name(t.dtype()));
    }
  }

  void copy(const Tensor& src, const Tensor& dst) override {
    SC_CHECK(src.defined() && dst.defined(), "copy: undefined tensor");
    SC_CHECK(src.dtype() == dst.dtype() && src.shape() == dst.shape(), "copy: ", src.str(), " -> ",
             dst.str(), ": dtype and shape must match");
    SC_CHECK(src.layout() == dst.layout(), "copy: layouts differ (", src.str(), " -> ", dst.str(),
             ")");
    for (const Tensor* t : {&src, &dst})
      SC_CHECK(t->device().is_cpu() || t->device() == device(), "copy: ", t->str(),
               " is on neither the host nor ", device().str());
    if (src.device().is_cpu() && dst.device().is_cpu()) {
      std::memmove(dst.raw(), src.raw(), src.nbytes());
      return;
    }
    SC_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDefault, stream_));
    // Host memory is the caller's again when copy returns.
    if (src.device().is_cpu() || dst.device().is_cpu())
      SC_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void add_(const Tensor& dst, const Tensor& src) override {
    check("add_", "dst", dst);
    check("add_", "src", src, dst.shape());
    cuda::launch_add_inplace(f32(dst), cf32(src), dst.numel(), stream_);
  }

  // ---- input pipeline ----

  void augment_batch(const Tensor& images, const Tensor& transforms, const Normalization& norm,
                     const Tensor& out) override {
    const char* op = "augment_batch";
    check_rank(op, "images", images, 4);
    const int64_t N = images.dim(0), S = images.dim(1);
    check_tensor(op, "images", images, device(), DType::u8, Shape{N, S, S, 3});
    check_tensor(op, "transforms", transforms, device(), DType::f32, Shape{N, kTransformFields});
    check(op, "out", out, Shape{N, 3, S, S});
    cuda::launch_augment(static_cast<const uint8_t*>(images.raw()), cf32(transforms), norm,
                         f32(out), N, int(S), stream_);
  }

  // ---- convolution ----

  void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                      const Tensor& y) override {
    const char* op = "conv2d_forward";
    check(op, "x", x);
    check(op, "w", w);
    check(op, "y", y, conv2d_output_shape(p, x.shape(), w.shape()));
    set_conv(p, x.shape(), w.shape(), y.shape());
    const ConvPlan plan = conv_plan(0, p, x.shape(), w.shape());
    Block ws = workspace_->allocate(plan.workspace, "cudnn forward workspace");
    const float one = 1, zero = 0;
    SC_CUDNN_CHECK(cudnnConvolutionForward(dnn_, &one, a_desc_, x.raw(), w_desc_, w.raw(),
                                           conv_desc_,
                                           static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo),
                                           ws.data(), plan.workspace, &zero, b_desc_, y.raw()));
  }

  void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w,
                            const Tensor& dx) override {
    const char* op = "conv2d_backward_data";
    check(op, "dx", dx);
    check(op, "w", w);
    check(op, "dy", dy, conv2d_output_shape(p, dx.shape(), w.shape()));
    set_conv(p, dx.shape(), w.shape(), dy.shape());
    const ConvPlan plan = conv_plan(1, p, dx.shape(), w.shape());
    Block ws = workspace_->allocate(plan.workspace, "cudnn backward-data workspace");
    const float one = 1, zero = 0;
    SC_CUDNN_CHECK(
        cudnnConvolutionBackwardData(dnn_, &one, w_desc_, w.raw(), b_desc_, dy.raw(), conv_desc_,
                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo),
                                     ws.data(), plan.workspace, &zero, a_desc_, dx.raw()));
  }

  void conv2d_backward_filter(const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                              const Tensor& dw) override {
    const char* op = "conv2d_backward_filter";
    check(op, "x", x);
    check(op, "dw", dw);
    check(op, "dy", dy, conv2d_output_shape(p, x.shape(), dw.shape()));
    set_conv(p, x.shape(), dw.shape(), dy.shape());
    const ConvPlan plan = conv_plan(2, p, x.shape(), dw.shape());
    Block ws = workspace_->allocate(plan.workspace, "cudnn backward-filter workspace");
    const float one = 1, zero = 0;
    SC_CUDNN_CHECK(
        cudnnConvolutionBackwardFilter(dnn_, &one, a_desc_, x.raw(), b_desc_, dy.raw(), conv_desc_,
                                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo),
                                       ws.data(), plan.workspace, &zero, w_desc_, dw.raw()));
  }

  // ---- batch norm (cuDNN spatial mode; [N, C] is seen as [N, C, 1, 1]) ----

  void batch_norm_forward_training(const BatchNormParams& p, const Tensor& x, const Tensor& gamma,
                                   const Tensor& beta, const Tensor& running_mean,
                                   const Tensor& running_var, const Tensor& y,
                                   const Tensor& save_mean, const Tensor& save_invstd) override {
    const char* op = "batch_norm_forward_training";
    const Shape c = bn_shapes(op, x, y);
    SC_CHECK(x.numel() / x.dim(1) > 1, op, ": x ", x.shape().str(),
             " has one value per channel; batch statistics need at least two");
    for (auto [name, t] : {std::pair{"gamma", &gamma},
                           {"beta", &beta},
                           {"running_mean", &running_mean},
                           {"running_var", &running_var},
                           {"save_mean", &save_mean},
                           {"save_invstd", &save_invstd}})
      check(op, name, *t, c);
    const float one = 1, zero = 0;
    SC_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        dnn_, CUDNN_BATCHNORM_SPATIAL, &one, &zero, a_desc_, x.raw(), a_desc_, y.raw(), c_desc_,
        gamma.raw(), beta.raw(), p.momentum, running_mean.raw(), running_var.raw(), p.eps,
        save_mean.raw(), save_invstd.raw()));
  }

  void batch_norm_forward_inference(const BatchNormParams& p, const Tensor& x, const Tensor& gamma,
                                    const Tensor& beta, const Tensor& running_mean,
                                    const Tensor& running_var, const Tensor& y) override {
    const char* op = "batch_norm_forward_inference";
    const Shape c = bn_shapes(op, x, y);
    for (auto [name, t] : {std::pair{"gamma", &gamma},
                           {"beta", &beta},
                           {"running_mean", &running_mean},
                           {"running_var", &running_var}})
      check(op, name, *t, c);
    const float one = 1, zero = 0;
    SC_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
        dnn_, CUDNN_BATCHNORM_SPATIAL, &one, &zero, a_desc_, x.raw(), a_desc_, y.raw(), c_desc_,
        gamma.raw(), beta.raw(), running_mean.raw(), running_var.raw(), p.eps));
  }

  void batch_norm_backward_inference(const BatchNormParams& p, const Tensor& dy,
                                     const Tensor& gamma, const Tensor& running_var,
                                     const Tensor& dx) override {
    const char* op = "batch_norm_backward_inference";
    check(op, "dy", dy);
    SC_CHECK(dy.rank() == 4 || dy.rank() == 2, op, ": argument 'dy' has shape ", dy.shape().str(),
             ", expected [N, C, H, W] or [N, C]");
    const Shape c{dy.dim(1)};
    check(op, "gamma", gamma, c);
    check(op, "running_var", running_var, c);
    check(op, "dx", dx, dy.shape());
    const int64_t hw = dy.rank() == 4 ? dy.dim(2) * dy.dim(3) : 1;
    cuda::launch_batch_norm_backward_inference(cf32(dy), cf32(gamma), cf32(running_var),
                                               float(p.eps), f32(dx), dy.numel(), dy.dim(1), hw,
                                               stream_);
  }

  void batch_norm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx,
                           const Tensor& dgamma, const Tensor& dbeta) override {
    const char* op = "batch_norm_backward";
    const Shape c = bn_shapes(op, x, dx);
    check(op, "dy", dy, x.shape());
    for (auto [name, t] : {std::pair{"gamma", &gamma},
                           {"save_mean", &save_mean},
                           {"save_invstd", &save_invstd},
                           {"dgamma", &dgamma},
                           {"dbeta", &dbeta}})
      check(op, name, *t, c);
    const float one = 1, zero = 0;
    // eps only matters when the saved statistics are absent; they are always given here.
    SC_CUDNN_CHECK(cudnnBatchNormalizationBackward(
        dnn_, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, a_desc_, x.raw(), a_desc_,
        dy.raw(), a_desc_, dx.raw(), c_desc_, gamma.raw(), dgamma.raw(), dbeta.raw(),
        BatchNormParams{}.eps, save_mean.raw(), save_invstd.raw()));
  }

  // ---- activations and pooling ----

  void relu_forward(const Tensor& x, const Tensor& y) override {
    check("relu_forward", "x", x);
    check("relu_forward", "y", y, x.shape());
    cuda::launch_relu_forward(cf32(x), f32(y), x.numel(), stream_);
  }

  void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) override {
    check("relu_backward", "y", y);
    check("relu_backward", "dy", dy, y.shape());
    check("relu_backward", "dx", dx, y.shape());
    cuda::launch_relu_backward(cf32(y), cf32(dy), f32(dx), y.numel(), stream_);
  }

  void max_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y) override {
    check("max_pool2d_forward", "x", x);
    check("max_pool2d_forward", "y", y, pool2d_output_shape(p, x.shape()));
    set_pool(p, x.shape(), y.shape());
    const float one = 1, zero = 0;
    SC_CUDNN_CHECK(
        cudnnPoolingForward(dnn_, pool_desc_, &one, a_desc_, x.raw(), &zero, b_desc_, y.raw()));
  }

  void max_pool2d_backward(const Pool2dParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& dx) override {
    const char* op = "max_pool2d_backward";
    check(op, "x", x);
    const Shape ys = pool2d_output_shape(p, x.shape());
    check(op, "dy", dy, ys);
    check(op, "dx", dx, x.shape());
    // cuDNN wants the forward output too; the seam does not keep it, so recompute it in scratch.
    Block y =
        workspace_->allocate(static_cast<size_t>(ys.numel()) * sizeof(float), "max pool output");
    set_pool(p, x.shape(), ys);
    const float one = 1, zero = 0;
    SC_CUDNN_CHECK(
        cudnnPoolingForward(dnn_, pool_desc_, &one, a_desc_, x.raw(), &zero, b_desc_, y.data()));
    SC_CUDNN_CHECK(cudnnPoolingBackward(dnn_, pool_desc_, &one, b_desc_, y.data(), b_desc_,
                                        dy.raw(), a_desc_, x.raw(), &zero, a_desc_, dx.raw()));
  }

  void global_avg_pool_forward(const Tensor& x, const Tensor& y) override {
    check("global_avg_pool_forward", "x", x);
    check_rank("global_avg_pool_forward", "x", x, 4);
    check("global_avg_pool_forward", "y", y, Shape{x.dim(0), x.dim(1)});
    cuda::launch_global_avg_pool_forward(cf32(x), f32(y), x.dim(0) * x.dim(1), x.dim(2) * x.dim(3),
                                         stream_);
  }

  void global_avg_pool_backward(const Tensor& dy, const Tensor& dx) override {
    check("global_avg_pool_backward", "dx", dx);
    check_rank("global_avg_pool_backward", "dx", dx, 4);
    check("global_avg_pool_backward", "dy", dy, Shape{dx.dim(0), dx.dim(1)});
    cuda::launch_global_avg_pool_backward(cf32(dy), f32(dx), dx.dim(0) * dx.dim(1),
                                          dx.dim(2) * dx.dim(3), stream_);
  }

  // ---- residual join ----

  void add_relu_forward(const Tensor& a, const Tensor& b, const Tensor& y) override {
    check("add_relu_forward", "a", a);
    check("add_relu_forward", "b", b, a.shape());
    check("add_relu_forward", "y", y, a.shape());
    cuda::launch_add_relu_forward(cf32(a), cf32(b), f32(y), a.numel(), stream_);
  }

  void add_relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dsum) override {
    check("add_relu_backward", "y", y);
    check("add_relu_backward", "dy", dy, y.shape());
    check("add_relu_backward", "dsum", dsum, y.shape());
    cuda::launch_relu_backward(cf32(y), cf32(dy), f32(dsum), y.numel(), stream_);
  }

  // ---- dense layer (cuBLAS is column-major: a row-major [r, c] matrix is its [c, r] transpose)
  // ----

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) override {
    const char* op = "linear_forward";
    check(op, "x", x);
    check_rank(op, "x", x, 2);
    check(op, "w", w);
    check_rank(op, "w", w, 2);
    SC_CHECK(w.dim(1) == x.dim(1), op, ": argument 'w' has shape ", w.shape().str(), " but x ",
             x.shape().str(), " has ", x.dim(1), " features");
    const int64_t N = x.dim(0), in = x.dim(1), out = w.dim(0);
    check(op, "b", b, Shape{out});
    check(op, "y", y, Shape{N, out});
    const float one = 1, zero = 0;
    // y^T[out, N] = W[out, in] x^T[in, N]
    SC_CUBLAS_CHECK(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(N), int(in), &one,
                                cf32(w), int(in), cf32(x), int(in), &zero, f32(y), int(out)));
    cuda::launch_add_bias_rows(f32(y), cf32(b), N, out, stream_);
  }

  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                       const Tensor& dw, const Tensor& db) override {
    const char* op = "linear_backward";
    check(op, "x", x);
    check_rank(op, "x", x, 2);
    check(op, "w", w);
    check_rank(op, "w", w, 2);
    const int64_t N = x.dim(0), in = x.dim(1), out = w.dim(0);
    check(op, "w", w, Shape{out, in});
    check(op, "dy", dy, Shape{N, out});
    const float one = 1, zero = 0;
    if (dx.defined()) {  // dx^T[in, N] = W^T[in, out] dy^T[out, N]
      check(op, "dx", dx, x.shape());
      SC_CUBLAS_CHECK(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_N, int(in), int(N), int(out), &one,
                                  cf32(w), int(in), cf32(dy), int(out), &zero, f32(dx), int(in)));
    }
    if (dw.defined()) {  // dW^T[in, out] = x^T[in, N] dy[N, out]
      check(op, "dw", dw, w.shape());
      SC_CUBLAS_CHECK(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_T, int(in), int(out), int(N), &one,
                                  cf32(x), int(in), cf32(dy), int(out), &zero, f32(dw), int(in)));
    }
    if (db.defined()) {
      check(op, "db", db, Shape{out});
      cuda::launch_sum_rows(cf32(dy), f32(db), N, out, stream_);
    }
  }

  // ---- loss ----

  void softmax_cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing,
                             const Tensor& loss, const Tensor& dlogits) override {
    const char* op = "softmax_cross_entropy";
    check(op, "logits", logits);
    check_rank(op, "logits", logits, 2);
    const int64_t N = logits.dim(0), K = logits.dim(1);
    check_tensor(op, "labels", labels, device(), DType::i32, Shape{N});
    check(op, "loss", loss, Shape{1});
    if (dlogits.defined()) check(op, "dlogits", dlogits, logits.shape());
    SC_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f, op, ": label_smoothing ",
             label_smoothing, " is outside [0, 1]");
    SC_CHECK(N > 0 && K > 0, op, ": logits ", logits.shape().str(), " are empty");
    Block rows = workspace_->allocate(static_cast<size_t>(N) * sizeof(float), "per-row losses");
    cuda::launch_softmax_cross_entropy(cf32(logits), static_cast<const int32_t*>(labels.raw()),
                                       label_smoothing, static_cast<float*>(rows.data()), f32(loss),
                                       dlogits.defined() ? f32(dlogits) : nullptr, N, K, stream_);
  }

  // ---- optimizers ----

  void sgd_update(const SgdParams& p, const Tensor& params, const Tensor& grads,
                  const Tensor& momentum_buf) override {
    check("sgd_update", "params", params);
    check("sgd_update", "grads", grads, params.shape());
    if (p.momentum != 0.0f) check("sgd_update", "momentum_buf", momentum_buf, params.shape());
    const SgdStep step = sgd_step(p);
    cuda::launch_sgd_update(f32(params), cf32(grads),
                            p.momentum != 0.0f ? f32(momentum_buf) : nullptr, params.numel(), step,
                            stream_);
  }

  void adamw_update(const AdamWParams& p, int64_t step, const Tensor& params, const Tensor& grads,
                    const Tensor& m, const Tensor& v) override {
    check("adamw_update", "params", params);
    check("adamw_update", "grads", grads, params.shape());
    check("adamw_update", "m", m, params.shape());
    check("adamw_update", "v", v, params.shape());
    const AdamWStep s = adamw_step(p, step);
    cuda::launch_adamw_update(f32(params), cf32(grads), f32(m), f32(v), params.numel(), s, stream_);
  }

  // ---- Grad-CAM core ----

  void cam_channel_weights(const Tensor& grads, const Tensor& weights) override {
    global_avg_pool_forward(grads, weights);  // the weights are the spatial means of the gradients
  }

  void cam_weighted_sum_relu(const Tensor& acts, const Tensor& weights,
                             const Tensor& cam) override {
    const char* op = "cam_weighted_sum_relu";
    check(op, "acts", acts);
    check_rank(op, "acts", acts, 4);
    const int64_t N = acts.dim(0), C = acts.dim(1);
    check(op, "weights", weights, Shape{N, C});
    check(op, "cam", cam, Shape{N, acts.dim(2), acts.dim(3)});
    cuda::launch_cam_weighted_sum_relu(cf32(acts), cf32(weights), f32(cam), N, C,
                                       acts.dim(2) * acts.dim(3), stream_);
  }

  void cam_maps(int method, const Tensor& acts, const Tensor& grads, const Tensor& weights,
                const Tensor& cam) override {
    const char* op = "cam_maps";
    check(op, "acts", acts);
    check_rank(op, "acts", acts, 4);
    const int64_t N = acts.dim(0), C = acts.dim(1), h = acts.dim(2), w = acts.dim(3);
    check(op, "grads", grads, acts.shape());
    check(op, "weights", weights, Shape{N * C});
    check(op, "cam", cam, Shape{N, h, w});
    SC_CHECK(method >= 0 && method <= 4, op, ": method ", method, " is not a gradient CAM method");
    cuda::launch_cam_maps(method, cf32(acts), cf32(grads), f32(weights), f32(cam), N, C, h * w,
                          stream_);
  }

  void cam_overlay(const Tensor& maps, const Tensor& images, const Tensor& lut, float image_weight,
                   const Tensor& scratch, const Tensor& out) override {
    const char* op = "cam_overlay";
    check(op, "maps", maps);
    check_rank(op, "maps", maps, 3);
    const int64_t N = maps.dim(0), S = maps.dim(1);
    check(op, "maps", maps, Shape{N, S, S});
    check_tensor(op, "images", images, device(), DType::u8, Shape{N, S, S, 3});
    check_tensor(op, "lut", lut, device(), DType::u8, Shape{256, 3});
    check(op, "scratch", scratch, Shape{N});
    check_tensor(op, "out", out, device(), DType::u8, Shape{N, S, S, 3});
    cuda::launch_cam_overlay(cf32(maps), static_cast<const uint8_t*>(images.raw()),
                             static_cast<const uint8_t*>(lut.raw()), image_weight, f32(scratch),
                             static_cast<uint8_t*>(out.raw()), N, S * S, stream_);
  }

  void cam_scale(const Tensor& cam, const Tensor& scratch, const Tensor& out) override {
    const char* op = "cam_scale";
    check(op, "cam", cam);
    check_rank(op, "cam", cam, 3);
    check(op, "out", out);
    check_rank(op, "out", out, 3);
    SC_CHECK(out.dim(0) == cam.dim(0), op, ": out ", out.shape().str(), " and cam ",
             cam.shape().str(), " hold different numbers of maps");
    check(op, "scratch", scratch, Shape{cam.numel()});
    cuda::launch_cam_scale(cf32(cam), f32(scratch), f32(out), cam.dim(0), cam.dim(1), cam.dim(2),
                           out.dim(1), out.dim(2), stream_);
  }

 private:
  void check(const char* op, const char* arg, const Tensor& t) const {
    check_tensor(op, arg, t, device(), DType::f32);
    check_layout(op, arg, t, Layout::rowmajor);
  }
  void check(const char* op, const char* arg, const Tensor& t, const Shape& shape) const {
    check_tensor(op, arg, t, device(), DType::f32, shape);
    check_layout(op, arg, t, Layout::rowmajor);
  }

 public:
  // The library routines the kernel benchmark times beside our kernels (cuda_backend.hpp).
  void run_peer(LibraryPeer peer, const Tensor& a, const Tensor& b, const Tensor& y) {
    const char* op = library_peer_name(peer);
    check(op, "a", a);
    check(op, "y", y);
    const float one = 1, zero = 0;
    if (!relu_desc_) {
      SC_CUDNN_CHECK(cudnnCreateActivationDescriptor(&relu_desc_));
      SC_CUDNN_CHECK(
          cudnnSetActivationDescriptor(relu_desc_, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0));
    }
    // Element-wise peers: a 4-D tensor keeps its NCHW shape, anything else is one flat row.
    const Shape as = a.rank() == 4 ? a.shape() : Shape{1, 1, 1, a.numel()};
    auto set_global_pool = [&](const Shape& x) {
      SC_CUDNN_CHECK(
          cudnnSetPooling2dDescriptor(pool_desc_, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING,
                                      CUDNN_PROPAGATE_NAN, int(x[2]), int(x[3]), 0, 0, 1, 1));
      set4d(a_desc_, x);
      set4d(b_desc_, Shape{x[0], x[1], 1, 1});
    };
    switch (peer) {
      case LibraryPeer::op_tensor_add_relu: {
        check(op, "b", b, a.shape());
        check(op, "y", y, a.shape());
        cudnnOpTensorDescriptor_t add;
        SC_CUDNN_CHECK(cudnnCreateOpTensorDescriptor(&add));
        SC_CUDNN_CHECK(cudnnSetOpTensorDescriptor(add, CUDNN_OP_TENSOR_ADD, CUDNN_DATA_FLOAT,
                                                  CUDNN_PROPAGATE_NAN));
        set4d(a_desc_, as);
        const cudnnStatus_t status = cudnnOpTensor(dnn_, add, &one, a_desc_, a.raw(), &one, a_desc_,
                                                   b.raw(), &zero, a_desc_, y.raw());
        cudnnDestroyOpTensorDescriptor(add);
        SC_CUDNN_CHECK(status);
        SC_CUDNN_CHECK(cudnnActivationForward(dnn_, relu_desc_, &one, a_desc_, y.raw(), &zero,
                                              a_desc_, y.raw()));
        return;
      }
      case LibraryPeer::add_tensor:
        check(op, "y", y, a.shape());
        set4d(a_desc_, as);
        SC_CUDNN_CHECK(cudnnAddTensor(dnn_, &one, a_desc_, a.raw(), &one, a_desc_, y.raw()));
        return;
      case LibraryPeer::axpy:
        check(op, "y", y, a.shape());
        SC_CHECK(a.numel() <= INT32_MAX, op, ": more elements than cublasSaxpy takes");
        SC_CUBLAS_CHECK(cublasSaxpy(blas_, int(a.numel()), &one, cf32(a), 1, f32(y), 1));
        return;
      case LibraryPeer::activation_backward:
        check(op, "b", b, a.shape());
        check(op, "y", y, a.shape());
        set4d(a_desc_, as);
        // For ReLU the input and the output agree on the sign, so the output stands in for x.
        SC_CUDNN_CHECK(cudnnActivationBackward(dnn_, relu_desc_, &one, a_desc_, a.raw(), a_desc_,
                                               b.raw(), a_desc_, a.raw(), &zero, a_desc_, y.raw()));
        return;
      case LibraryPeer::avg_pool_forward:
        SC_CHECK(a.rank() == 4, op, ": a must be [N, C, H, W]");
        check(op, "y", y, Shape{a.shape()[0], a.shape()[1]});
        set_global_pool(a.shape());
        SC_CUDNN_CHECK(
            cudnnPoolingForward(dnn_, pool_desc_, &one, a_desc_, a.raw(), &zero, b_desc_, y.raw()));
        return;
      case LibraryPeer::avg_pool_backward:
        SC_CHECK(y.rank() == 4, op, ": y must be [N, C, H, W]");
        check(op, "a", a, Shape{y.shape()[0], y.shape()[1]});
        check(op, "b", b, y.shape());
        set_global_pool(y.shape());
        // Average pooling's gradient reads neither the forward input nor output values.
        SC_CUDNN_CHECK(cudnnPoolingBackward(dnn_, pool_desc_, &one, b_desc_, a.raw(), b_desc_,
                                            a.raw(), a_desc_, b.raw(), &zero, a_desc_, y.raw()));
        return;
    }
    fail(op, ": unknown library peer");
  }

 private:
  static void set4d(cudnnTensorDescriptor_t d, const Shape& s) {
    const int64_t h = s.rank() == 4 ? s[2] : 1, w = s.rank() == 4 ? s[3] : 1;
    SC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(s[0]),
                                              int(s[1]), int(h), int(w)));
  }

  Shape bn_shapes(const char* op, const Tensor& x, const Tensor& y) {
    check(op, "x", x);
    SC_CHECK(x.rank() == 4 || x.rank() == 2, op, ": argument 'x' has shape ", x.shape().str(),
             ", expected [N, C, H, W] or [N, C]");
    check(op, "y", y, x.shape());
    set4d(a_desc_, x.shape());
    SC_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(c_desc_, a_desc_, CUDNN_BATCHNORM_SPATIAL));
    return Shape{x.dim(1)};
  }

  void set_pool(const Pool2dParams& p, const Shape& x, const Shape& y) {
    SC_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pool_desc_, CUDNN_POOLING_MAX_DETERMINISTIC,
                                               CUDNN_PROPAGATE_NAN, p.kernel_h, p.kernel_w, p.pad_h,
                                               p.pad_w, p.stride_h, p.stride_w));
    set4d(a_desc_, x);
    set4d(b_desc_, y);
  }

  // Descriptors of x (a_desc_), w (w_desc_), y (b_desc_) and the convolution.
  void set_conv(const Conv2dParams& p, const Shape& x, const Shape& w, const Shape& y) {
    set4d(a_desc_, x);
    set4d(b_desc_, y);
    SC_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_desc_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                              int(w[0]), int(w[1]), int(w[2]), int(w[3])));
    SC_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_desc_, p.pad_h, p.pad_w, p.stride_h,
                                                   p.stride_w, p.dilation_h, p.dilation_w,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    SC_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_desc_, p.groups));
    SC_CUDNN_CHECK(cudnnSetConvolutionMathType(
        conv_desc_, options_.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  }

  // The fastest algorithm cuDNN's heuristics rank first among those whose workspace fits the
  // limit; chosen once per (pass, shape) and cached. Expects set_conv() for this shape.
  ConvPlan conv_plan(int pass, const Conv2dParams& p, const Shape& x, const Shape& w) {
    const ConvKey key{
        pass,
        {x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3]},
        {p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, p.groups}};
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    constexpr int kCandidates = 8;
    int returned = 0;
    ConvPlan plan;
    bool found = false;
    auto pick = [&](const auto* results) {
      for (int i = 0; i < returned && !found; ++i)
        if (results[i].status == CUDNN_STATUS_SUCCESS &&
            results[i].memory <= options_.workspace_limit_bytes) {
          plan.algo = static_cast<int>(results[i].algo);
          plan.workspace = results[i].memory;
          found = true;
        }
    };
    if (pass == 0) {
      cudnnConvolutionFwdAlgoPerf_t r[kCandidates];
      SC_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(dnn_, a_desc_, w_desc_, conv_desc_,
                                                            b_desc_, kCandidates, &returned, r));
      pick(r);
    } else if (pass == 1) {
      cudnnConvolutionBwdDataAlgoPerf_t r[kCandidates];
      SC_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
          dnn_, w_desc_, b_desc_, conv_desc_, a_desc_, kCandidates, &returned, r));
      pick(r);
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t r[kCandidates];
      SC_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          dnn_, a_desc_, b_desc_, conv_desc_, w_desc_, kCandidates, &returned, r));
      pick(r);
    }
    SC_CHECK(found, "conv2d: no cuDNN algorithm for x ", x.str(), ", w ", w.str(),
             " fits the workspace limit of ", options_.workspace_limit_bytes, " bytes");
    plans_[key] = plan;
    return plan;
  }

  CudaOptions options_;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t dnn_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cudnnTensorDescriptor_t a_desc_ = nullptr, b_desc_ = nullptr, c_desc_ = nullptr;
  cudnnFilterDescriptor_t w_desc_ = nullptr;
  cudnnConvolutionDescriptor_t conv_desc_ = nullptr;
  cudnnPoolingDescriptor_t pool_desc_ = nullptr;
  std::unique_ptr<Pool> workspace_;
  std::map<ConvKey, ConvPlan> plans_;
  cudaEvent_t timer_start_ = nullptr, timer_stop_ = nullptr;  // time_seconds(), made on first use
  cudnnActivationDescriptor_t relu_desc_ = nullptr;           // run_peer(), made on first use
};

}  // namespace

const char* library_peer_name(LibraryPeer peer) {
  switch (peer) {
    case LibraryPeer::op_tensor_add_relu:
      return "cudnnOpTensor+cudnnActivationForward";
    case LibraryPeer::add_tensor:
      return "cudnnAddTensor";
    case LibraryPeer::axpy:
      return "cublasSaxpy";
    case LibraryPeer::activation_backward:
      return "cudnnActivationBackward";
    case LibraryPeer::avg_pool_forward:
      return "cudnnPoolingForward (average)";
    case LibraryPeer::avg_pool_backward:
      return "cudnnPoolingBackward (average)";
  }
  return "unknown";
}

void run_library_peer(Backend& backend, LibraryPeer peer, const Tensor& a, const Tensor& b,
                      const Tensor& y) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  SC_CHECK(cuda, library_peer_name(peer), " needs the CUDA backend, not '", backend.name(), "'");
  cuda->run_peer(peer, a, b, y);
}

bool cuda_available(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    *why = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return false;
  }
  if (count == 0) {
    *why = "no CUDA device found";
    return false;
  }
  return true;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  std::string why;
  SC_CHECK(cuda_available(&why), why);
  int count = 0;
  SC_CUDA_CHECK(cudaGetDeviceCount(&count));
  SC_CHECK(options.device >= 0 && options.device < count, "cuda:", options.device,
           " does not exist (", count, " device", count == 1 ? "" : "s", ")");
  return std::make_unique<CudaBackend>(options);
}

}  // namespace scenecam
