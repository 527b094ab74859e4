// RAII for every CUDA runtime, cuDNN and cuBLAS handle and descriptor the backend holds. Each
// make_*() creates one (a failure throws, naming the call) and the holder destroys it, so an
// object whose construction fails half-way leaks nothing and no destructor lists its handles.
// A holder converts to the raw handle, so library calls take it as they are.
#pragma once

#include <utility>

#include "check.hpp"

namespace scenecam::cuda {

template <typename T, auto Destroy>
class Owned {
 public:
  Owned() = default;
  explicit Owned(T handle) : handle_(handle) {}
  Owned(Owned&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  operator T() const { return handle_; }  // NOLINT: passes straight into the library calls
  explicit operator bool() const { return handle_ != nullptr; }
  void reset() {
    if (handle_) Destroy(handle_);  // the status is of no use during teardown
    handle_ = nullptr;
  }

 private:
  T handle_ = nullptr;
};

using Stream = Owned<cudaStream_t, cudaStreamDestroy>;
using Event = Owned<cudaEvent_t, cudaEventDestroy>;
using DnnHandle = Owned<cudnnHandle_t, cudnnDestroy>;
using BlasHandle = Owned<cublasHandle_t, cublasDestroy>;
using TensorDesc = Owned<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDesc = Owned<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDesc = Owned<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;
using PoolingDesc = Owned<cudnnPoolingDescriptor_t, cudnnDestroyPoolingDescriptor>;
using ActivationDesc = Owned<cudnnActivationDescriptor_t, cudnnDestroyActivationDescriptor>;
using OpTensorDesc = Owned<cudnnOpTensorDescriptor_t, cudnnDestroyOpTensorDescriptor>;
using Graph = Owned<cudaGraph_t, cudaGraphDestroy>;
using GraphExec = Owned<cudaGraphExec_t, cudaGraphExecDestroy>;

inline Stream make_stream() {
  cudaStream_t s = nullptr;
  SC_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return Stream(s);
}
inline Event make_event(unsigned flags = cudaEventDefault) {
  cudaEvent_t e = nullptr;
  SC_CUDA_CHECK(cudaEventCreateWithFlags(&e, flags));
  return Event(e);
}
inline DnnHandle make_dnn_handle() {
  cudnnHandle_t h = nullptr;
  SC_CUDNN_CHECK(cudnnCreate(&h));
  return DnnHandle(h);
}
inline BlasHandle make_blas_handle() {
  cublasHandle_t h = nullptr;
  SC_CUBLAS_CHECK(cublasCreate(&h));
  return BlasHandle(h);
}
inline TensorDesc make_tensor_desc() {
  cudnnTensorDescriptor_t d = nullptr;
  SC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
  return TensorDesc(d);
}
inline FilterDesc make_filter_desc() {
  cudnnFilterDescriptor_t d = nullptr;
  SC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
  return FilterDesc(d);
}
inline ConvDesc make_conv_desc() {
  cudnnConvolutionDescriptor_t d = nullptr;
  SC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
  return ConvDesc(d);
}
inline PoolingDesc make_pooling_desc() {
  cudnnPoolingDescriptor_t d = nullptr;
  SC_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&d));
  return PoolingDesc(d);
}
inline ActivationDesc make_activation_desc() {
  cudnnActivationDescriptor_t d = nullptr;
  SC_CUDNN_CHECK(cudnnCreateActivationDescriptor(&d));
  return ActivationDesc(d);
}
inline OpTensorDesc make_op_tensor_desc() {
  cudnnOpTensorDescriptor_t d = nullptr;
  SC_CUDNN_CHECK(cudnnCreateOpTensorDescriptor(&d));
  return OpTensorDesc(d);
}

}  // namespace scenecam::cuda
