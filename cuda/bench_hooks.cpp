// The CUDA backend's hooks for the benchmarks (hooks/library_peers.hpp): the cuDNN and cuBLAS
// routines `scenecam-bench kernels` times beside our kernels, on the backend's stream with its
// handles, and the names of cuDNN's convolution algorithms for `scenecam-bench conv`. Their
// descriptors are made once per thread and reused, so the timed calls include no host set-up.
#include <cstdio>

#include "handles.hpp"
#include "internal.hpp"
#include "internal/op_checks.hpp"
#include "library_peers.hpp"

namespace scenecam {
namespace {

struct PeerDescriptors {
  cuda::TensorDesc a = cuda::make_tensor_desc(), b = cuda::make_tensor_desc();
  cuda::PoolingDesc pool = cuda::make_pooling_desc();
  cuda::ActivationDesc relu = cuda::make_activation_desc();
  cuda::OpTensorDesc add = cuda::make_op_tensor_desc();
  PeerDescriptors() {
    SC_CUDNN_CHECK(
        cudnnSetActivationDescriptor(relu, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0));
    SC_CUDNN_CHECK(cudnnSetOpTensorDescriptor(add, CUDNN_OP_TENSOR_ADD, CUDNN_DATA_FLOAT,
                                              CUDNN_PROPAGATE_NAN));
  }
};

void set4d(cudnnTensorDescriptor_t d, const Shape& s) {
  SC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(s[0]),
                                            int(s[1]), int(s[2]), int(s[3])));
}

// Global average pooling of x [N, C, H, W] to [N, C, 1, 1]: a into x, b into the pooled shape.
void set_global_pool(PeerDescriptors& d, const Shape& x) {
  SC_CUDNN_CHECK(cudnnSetPooling2dDescriptor(d.pool, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING,
                                             CUDNN_PROPAGATE_NAN, int(x[2]), int(x[3]), 0, 0, 1,
                                             1));
  set4d(d.a, x);
  set4d(d.b, Shape{x[0], x[1], 1, 1});
}

void check_peer_arg(const char* op, const char* arg, const Tensor& t, Device device,
                    const Shape* shape = nullptr) {
  if (shape) {
    check_tensor(op, arg, t, device, DType::f32, *shape);
  } else {
    check_tensor(op, arg, t, device, DType::f32);
  }
  check_layout(op, arg, t, Layout::rowmajor);
}

void run_elementwise_peer(const cuda::DeviceHandles& h, PeerDescriptors& d, LibraryPeer peer,
                          const Tensor& a, const Tensor& b, const Tensor& y) {
  const char* op = library_peer_name(peer);
  const float one = 1, zero = 0;
  // A 4-D tensor keeps its NCHW shape, anything else is one flat row.
  set4d(d.a, a.rank() == 4 ? a.shape() : Shape{1, 1, 1, a.numel()});
  check_peer_arg(op, "y", y, h.device, &a.shape());
  switch (peer) {
    case LibraryPeer::op_tensor_add_relu:
      check_peer_arg(op, "b", b, h.device, &a.shape());
      SC_CUDNN_CHECK(
          cudnnOpTensor(h.dnn, d.add, &one, d.a, a.raw(), &one, d.a, b.raw(), &zero, d.a, y.raw()));
      SC_CUDNN_CHECK(
          cudnnActivationForward(h.dnn, d.relu, &one, d.a, y.raw(), &zero, d.a, y.raw()));
      return;
    case LibraryPeer::add_tensor:
      SC_CUDNN_CHECK(cudnnAddTensor(h.dnn, &one, d.a, a.raw(), &one, d.a, y.raw()));
      return;
    case LibraryPeer::axpy:
      SC_CHECK(a.numel() <= INT32_MAX, op, ": more elements than cublasSaxpy takes");
      SC_CUBLAS_CHECK(cublasSaxpy(h.blas, int(a.numel()), &one, static_cast<const float*>(a.raw()),
                                  1, static_cast<float*>(y.raw()), 1));
      return;
    case LibraryPeer::activation_backward:
      check_peer_arg(op, "b", b, h.device, &a.shape());
      // For ReLU the input and the output agree on the sign, so the output stands in for x.
      SC_CUDNN_CHECK(cudnnActivationBackward(h.dnn, d.relu, &one, d.a, a.raw(), d.a, b.raw(), d.a,
                                             a.raw(), &zero, d.a, y.raw()));
      return;
    default:
      fail(op, ": not an element-wise peer");
  }
}

void run_pooling_peer(const cuda::DeviceHandles& h, PeerDescriptors& d, LibraryPeer peer,
                      const Tensor& a, const Tensor& b, const Tensor& y) {
  const char* op = library_peer_name(peer);
  const float one = 1, zero = 0;
  if (peer == LibraryPeer::avg_pool_forward) {
    SC_CHECK(a.rank() == 4, op, ": a must be [N, C, H, W]");
    const Shape pooled{a.shape()[0], a.shape()[1]};
    check_peer_arg(op, "y", y, h.device, &pooled);
    set_global_pool(d, a.shape());
    SC_CUDNN_CHECK(cudnnPoolingForward(h.dnn, d.pool, &one, d.a, a.raw(), &zero, d.b, y.raw()));
    return;
  }
  SC_CHECK(y.rank() == 4, op, ": y must be [N, C, H, W]");
  const Shape pooled{y.shape()[0], y.shape()[1]};
  check_peer_arg(op, "a", a, h.device, &pooled);
  check_peer_arg(op, "b", b, h.device, &y.shape());
  set_global_pool(d, y.shape());
  // Average pooling's gradient reads neither the forward input nor output values.
  SC_CUDNN_CHECK(cudnnPoolingBackward(h.dnn, d.pool, &one, d.b, a.raw(), d.b, a.raw(), d.a, b.raw(),
                                      &zero, d.a, y.raw()));
}

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
  const char* op = library_peer_name(peer);
  const cuda::DeviceHandles h = cuda::device_handles(backend, op);
  check_peer_arg(op, "a", a, h.device);
  check_peer_arg(op, "y", y, h.device);
  thread_local PeerDescriptors descriptors;
  if (peer == LibraryPeer::avg_pool_forward || peer == LibraryPeer::avg_pool_backward) {
    run_pooling_peer(h, descriptors, peer, a, b, y);
  } else {
    run_elementwise_peer(h, descriptors, peer, a, b, y);
  }
}

std::string cuda::conv_algorithm_text(ConvPass pass, int algo, cudnnMathType_t math,
                                      size_t workspace) {
  static const char* const kForward[] = {
      "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
      "WINOGRAD",      "WINOGRAD_NONFUSED"};
  static const char* const kData[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                      "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const kFilter[] = {
      "ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  const char* const* names = pass == ConvPass::forward         ? kForward
                             : pass == ConvPass::backward_data ? kData
                                                               : kFilter;
  const int count = pass == ConvPass::forward ? 8 : pass == ConvPass::backward_data ? 6 : 7;
  const std::string name = algo >= 0 && algo < count ? names[algo] : "algo " + std::to_string(algo);
  const char* math_name = math == CUDNN_FMA_MATH       ? "fma"
                          : math == CUDNN_DEFAULT_MATH ? "default"
                                                       : "tensor-op";
  char text[64];
  std::snprintf(text, sizeof text, " (%s math, ws %.1f MiB)", math_name, workspace / 1048576.0);
  return name + text;
}

}  // namespace scenecam
