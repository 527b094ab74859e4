// CudaBackend: the Backend seam on an NVIDIA GPU. cuDNN (legacy API, behind this file's own
// helpers so the graph API can replace it) for convolution, batch norm and max pooling; cuBLAS for
// the dense layer; custom kernels for everything else, through KernelBackend (kernel_backend.hpp),
// which this class extends. One stream, one cuDNN and one
// cuBLAS handle bound to it. Scratch (cuDNN workspace, recomputed pooling outputs, per-row losses)
// comes from a growable device pool that sizes itself during the first step; after that no call
// here reaches cudaMalloc. Convolution algorithms are chosen once per shape and cached.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>

#include "check.hpp"
#include "handles.hpp"
#include "internal.hpp"
#include "internal/measurement.hpp"
#include "internal/op_checks.hpp"
#include "kernel_backend.hpp"
#include "kernels.hpp"
#include "scenecam/cuda_backend.hpp"

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
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t workspace = 0;
};

using ConvKey = std::tuple<ConvPass, std::array<int64_t, 8>, std::array<int, 7>>;

class CudaBackend final : public KernelBackend, public BackendMeasurement {
 public:
  explicit CudaBackend(const CudaOptions& o)
      : KernelBackend(Device::cuda(o.device)), options_(o), stream_owner_(set_device(o.device)) {
    stream_ = stream_owner_;
    SC_CUDNN_CHECK(cudnnSetStream(dnn_, stream_));
    SC_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
    SC_CUBLAS_CHECK(
        cublasSetMathMode(blas_, o.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
    workspace_ = make_pool("cuda workspace", 0, /*growable=*/true);
    // cuBLAS's own workspace, fixed: left to itself, cuBLAS takes a new one for every graph
    // recorded. (cublasSetStream resets it, so it is set after.)
    blas_pool_ = make_pool("cublas workspace", kBlasWorkspace, false);
    blas_workspace_ = blas_pool_->allocate(kBlasWorkspace, "cublas workspace");
    SC_CUBLAS_CHECK(cublasSetWorkspace(blas_, blas_workspace_.data(), kBlasWorkspace));
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    workspace_.reset();  // before the stream and handles the members' destructors release
    blas_workspace_.release();
    blas_pool_.reset();
  }

  // Stream capture: the ops run nothing while recorded; the graph is instantiated once and
  // launched on the backend's stream at each replay.
  class Graph final : public RecordedStep {
   public:
    Graph(cuda::GraphExec exec, cudaStream_t stream) : exec_(std::move(exec)), stream_(stream) {}
    void replay() override { SC_CUDA_CHECK(cudaGraphLaunch(exec_, stream_)); }

   private:
    cuda::GraphExec exec_;
    cudaStream_t stream_;
  };

  std::unique_ptr<RecordedStep> record_step(const std::function<void()>& ops) override {
    SC_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t raw = nullptr;
    try {
      ops();
    } catch (...) {
      cudaStreamEndCapture(stream_, &raw);  // ends the capture whatever broke it
      if (raw) cudaGraphDestroy(raw);
      cudaGetLastError();  // the op's error is in the exception; the stream goes on without it
      throw;
    }
    const cudaError_t ended = cudaStreamEndCapture(stream_, &raw);
    cuda::Graph graph(raw);
    if (ended != cudaSuccess) cudaGetLastError();
    SC_CHECK(ended == cudaSuccess, "record_step: the step could not be recorded as a CUDA graph: ",
             cudaGetErrorString(ended));
    cudaGraphExec_t exec = nullptr;
    SC_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    return std::make_unique<Graph>(cuda::GraphExec(exec), stream_);
  }

  cuda::DeviceHandles handles() const { return {dnn_, blas_, stream_, device()}; }

  void synchronize() override { SC_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  double time_seconds(const std::function<void()>& fn) override {
    if (!timer_start_) {
      timer_start_ = cuda::make_event();
      timer_stop_ = cuda::make_event();
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
                             ConvPass pass) override {
    set_conv(p, x, w, conv2d_output_shape(p, x, w));
    const ConvPlan plan = conv_plan(pass, p, x, w);
    return cuda::conv_algorithm_text(pass, plan.algo, plan.math, plan.workspace);
  }

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

  // ---- transfers (the custom-kernel ops are KernelBackend's) ----

  void copy(const Tensor& src, const Tensor& dst) override {
    check_copy(src, dst);
    if (src.device().is_cpu() && dst.device().is_cpu()) {
      std::memmove(dst.raw(), src.raw(), src.nbytes());
      return;
    }
    SC_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDefault, stream_));
    // Host memory is the caller's again when copy returns.
    if (src.device().is_cpu() || dst.device().is_cpu())
      SC_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  size_t device_memory_free() override {
    size_t free = 0, total = 0;
    SC_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return free;
  }

  // The staging memory is page-locked, so the copy runs on the stream while the host goes on.
  void copy_async(const Tensor& src, const Tensor& dst) override {
    check_copy(src, dst);
    SC_CHECK(src.device().is_cpu() && dst.device() == device(), "copy_async: ", src.str(), " -> ",
             dst.str(), ": uploads go from host memory to ", device().str());
    SC_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyHostToDevice,
                                  stream_));
  }

  // Marks take turns over a few events; a mark whose event was recorded again since is waited for
  // through the later recording, which comes after it on the stream.
  uint64_t upload_mark() override {
    ++marks_;
    SC_CUDA_CHECK(cudaEventRecord(upload_events_[marks_ % kUploadEvents], stream_));
    return marks_;
  }
  void wait_uploads(uint64_t mark) override {
    if (mark == 0) return;
    SC_CHECK(mark <= marks_, "wait_uploads: mark ", mark, " was never made");
    SC_CUDA_CHECK(cudaEventSynchronize(upload_events_[mark % kUploadEvents]));
  }

  void check_copy(const Tensor& src, const Tensor& dst) const {
    SC_CHECK(src.defined() && dst.defined(), "copy: undefined tensor");
    SC_CHECK(src.dtype() == dst.dtype() && src.shape() == dst.shape(), "copy: ", src.str(), " -> ",
             dst.str(), ": dtype and shape must match");
    SC_CHECK(src.layout() == dst.layout(), "copy: layouts differ (", src.str(), " -> ", dst.str(),
             ")");
    for (const Tensor* t : {&src, &dst})
      SC_CHECK(t->device().is_cpu() || t->device() == device(), "copy: ", t->str(),
               " is on neither the host nor ", device().str());
  }

  // ---- convolution ----

  void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w,
                      const Tensor& y) override {
    const char* op = "conv2d_forward";
    check(op, "x", x);
    check(op, "w", w);
    check(op, "y", y, conv2d_output_shape(p, x.shape(), w.shape()));
    set_conv(p, x.shape(), w.shape(), y.shape());
    const ConvPlan plan = conv_plan(ConvPass::forward, p, x.shape(), w.shape());
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
    const ConvPlan plan = conv_plan(ConvPass::backward_data, p, dx.shape(), w.shape());
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
    const ConvPlan plan = conv_plan(ConvPass::backward_filter, p, x.shape(), dw.shape());
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

  void batch_norm_backward(const BatchNormParams& p, const Tensor& x, const Tensor& dy,
                           const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                           const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) override {
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
    // cuDNN asks for the forward's epsilon even though the saved statistics are given.
    SC_CUDNN_CHECK(cudnnBatchNormalizationBackward(
        dnn_, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, a_desc_, x.raw(), a_desc_,
        dy.raw(), a_desc_, dx.raw(), c_desc_, gamma.raw(), dgamma.raw(), dbeta.raw(), p.eps,
        save_mean.raw(), save_invstd.raw()));
  }

  // ---- max pooling ----

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

  // ---- dense layer: cuBLAS is column-major, so a row-major [r, c] matrix is its [c, r] transpose

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) override {
    const auto [N, in, out] = check_linear_forward(x, w, b, y);
    const float one = 1, zero = 0;
    // y^T[out, N] = W[out, in] x^T[in, N]
    SC_CUBLAS_CHECK(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(N), int(in), &one,
                                cf32(w), int(in), cf32(x), int(in), &zero, f32(y), int(out)));
    cuda::launch_add_bias_rows(f32(y), cf32(b), N, out, stream_);
  }

  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                       const Tensor& dw, const Tensor& db) override {
    const auto [N, in, out] = check_linear_backward(x, w, dy, dx, dw, db);
    const float one = 1, zero = 0;
    if (dx.defined())  // dx^T[in, N] = W^T[in, out] dy^T[out, N]
      SC_CUBLAS_CHECK(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_N, int(in), int(N), int(out), &one,
                                  cf32(w), int(in), cf32(dy), int(out), &zero, f32(dx), int(in)));
    if (dw.defined())  // dW^T[in, out] = x^T[in, N] dy[N, out]
      SC_CUBLAS_CHECK(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_T, int(in), int(out), int(N), &one,
                                  cf32(x), int(in), cf32(dy), int(out), &zero, f32(dw), int(in)));
    if (db.defined()) cuda::launch_sum_rows(cf32(dy), f32(db), N, out, stream_);
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

  // The plan for one (pass, shape), chosen once and cached; its math type is applied to the
  // convolution descriptor before every call, since set_conv() resets it. Expects set_conv().
  ConvPlan conv_plan(ConvPass pass, const Conv2dParams& p, const Shape& x, const Shape& w) {
    const ConvKey key{
        pass,
        {x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3]},
        {p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, p.groups}};
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, choose_conv_plan(pass, x, w)).first;
    SC_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc_, it->second.math));
    return it->second;
  }

  // The algorithm cuDNN's heuristics rank first among those whose workspace fits the limit and,
  // with TF32 off, that compute in plain FMA (as PyTorch filters them: a "default" or tensor-op
  // math type may use TF32). The workspace is asked for again under the chosen math type.
  ConvPlan choose_conv_plan(ConvPass pass, const Shape& x, const Shape& w) {
    constexpr int kCandidates = 8;
    int returned = 0;
    ConvPlan plan;
    bool found = false;
    auto pick = [&](const auto* results) {
      for (int i = 0; i < returned && !found; ++i)
        if (results[i].status == CUDNN_STATUS_SUCCESS &&
            results[i].memory <= options_.workspace_limit_bytes &&
            (options_.allow_tf32 || results[i].mathType == CUDNN_FMA_MATH)) {
          plan.algo = static_cast<int>(results[i].algo);
          plan.math = results[i].mathType;
          plan.workspace = results[i].memory;
          found = true;
        }
    };
    if (pass == ConvPass::forward) {
      cudnnConvolutionFwdAlgoPerf_t r[kCandidates];
      SC_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(dnn_, a_desc_, w_desc_, conv_desc_,
                                                            b_desc_, kCandidates, &returned, r));
      pick(r);
    } else if (pass == ConvPass::backward_data) {
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
             options_.allow_tf32 ? "" : " in FMA math (TF32 off)", " fits the workspace limit of ",
             options_.workspace_limit_bytes, " bytes");
    SC_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc_, plan.math));
    plan.workspace = std::max(plan.workspace, conv_workspace_bytes(pass, plan.algo));
    SC_CHECK(plan.workspace <= options_.workspace_limit_bytes, "conv2d: cuDNN's algorithm ",
             plan.algo, " for x ", x.str(), ", w ", w.str(), " asks for ", plan.workspace,
             " bytes of workspace under its math type, over the limit of ",
             options_.workspace_limit_bytes);
    return plan;
  }

  size_t conv_workspace_bytes(ConvPass pass, int algo) {
    size_t bytes = 0;
    if (pass == ConvPass::forward) {
      SC_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
          dnn_, a_desc_, w_desc_, conv_desc_, b_desc_, static_cast<cudnnConvolutionFwdAlgo_t>(algo),
          &bytes));
    } else if (pass == ConvPass::backward_data) {
      SC_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
          dnn_, w_desc_, b_desc_, conv_desc_, a_desc_,
          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes));
    } else {
      SC_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          dnn_, a_desc_, b_desc_, conv_desc_, w_desc_,
          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes));
    }
    return bytes;
  }

  // Selects the device before anything is made on it; returns the backend's stream.
  static cuda::Stream set_device(int device) {
    SC_CUDA_CHECK(cudaSetDevice(device));
    return cuda::make_stream();
  }

  // Declared in the order they are made (and released in reverse): the stream first.
  CudaOptions options_;
  cuda::Stream stream_owner_;
  cuda::DnnHandle dnn_ = cuda::make_dnn_handle();
  cuda::BlasHandle blas_ = cuda::make_blas_handle();
  cuda::TensorDesc a_desc_ = cuda::make_tensor_desc(), b_desc_ = cuda::make_tensor_desc(),
                   c_desc_ = cuda::make_tensor_desc();
  cuda::FilterDesc w_desc_ = cuda::make_filter_desc();
  cuda::ConvDesc conv_desc_ = cuda::make_conv_desc();
  cuda::PoolingDesc pool_desc_ = cuda::make_pooling_desc();
  std::map<ConvKey, ConvPlan> plans_;
  static constexpr size_t kBlasWorkspace = 32u << 20;  // NVIDIA's advice for Hopper
  std::unique_ptr<Pool> blas_pool_;
  Block blas_workspace_;
  cuda::Event timer_start_, timer_stop_;  // time_seconds(), made on first use
  static constexpr int kUploadEvents = 4;
  cuda::Event upload_events_[kUploadEvents] = {
      cuda::make_event(cudaEventDisableTiming), cuda::make_event(cudaEventDisableTiming),
      cuda::make_event(cudaEventDisableTiming), cuda::make_event(cudaEventDisableTiming)};
  uint64_t marks_ = 0;
};

}  // namespace

cuda::DeviceHandles cuda::device_handles(Backend& backend, const char* what) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  SC_CHECK(cuda, what, " needs the CUDA backend, not '", backend.name(), "'");
  return cuda->handles();
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
