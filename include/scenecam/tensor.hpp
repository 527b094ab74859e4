// The engine's vocabulary: DType, Device, Shape, Layout and Tensor.
//
// A Tensor is a typed, non-owning view: a pointer into a pool block plus shape, dtype, device and
// memory layout. It never copies, never allocates and never synchronises a device; whoever owns
// the block (a Pool lease, see pool.hpp) decides how long the view stays valid.
//
// Shapes are always logical: a 4-D activation is [N, C, H, W] whatever its layout. The layout says
// how those logical dimensions sit in memory (row-major NCHW, or channels-last NHWC as cuDNN and
// PyTorch's channels_last use it), so every op checks shapes the same way on every backend.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "scenecam/error.hpp"

namespace scenecam {

enum class DType : uint8_t { f32, f64, f16, bf16, u8, i32 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::u8;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::i32;
}

enum class DeviceKind : uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return {DeviceKind::cpu, 0}; }
  static Device cuda(int index = 0) { return {DeviceKind::cuda, index}; }
  // Parses "cpu", "cuda" or "cuda:N"; throws Error on anything else.
  static Device parse(const std::string& text);

  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool is_cuda() const { return kind == DeviceKind::cuda; }
  std::string str() const;  // "cpu" or "cuda:N"
  bool operator==(const Device& o) const {
    return kind == o.kind && (is_cpu() || index == o.index);
  }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Up to kMaxRank dimensions stored inline, so shapes never touch the heap on a hot path.
class Shape {
 public:
  static constexpr int kMaxRank = 6;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t numel() const;
  std::string str() const;  // "[3, 4, 7, 5]"

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  void assign(const int64_t* begin, const int64_t* end);

  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

enum class Layout : uint8_t {
  rowmajor,  // the logical dimensions in order: NCHW for activations, [O, I, kh, kw] for filters
  nhwc,      // 4-D only: channels last
};
const char* layout_name(Layout layout);

class Tensor {
 public:
  Tensor() = default;
  Tensor(void* data, const Shape& shape, DType dtype, Device device,
         Layout layout = Layout::rowmajor);

  bool defined() const { return data_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return shape_.rank(); }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  Layout layout() const { return layout_; }
  void* raw() const { return data_; }

  // Typed access; throws when T does not match the tensor's dtype.
  template <typename T>
  T* data() const {
    SC_CHECK(dtype_of<T>() == dtype_, "tensor of dtype ", dtype_name(dtype_), " read as ",
             dtype_name(dtype_of<T>()));
    return static_cast<T*>(data_);
  }

  // The same memory seen with another shape of equal element count (row-major only).
  Tensor view(const Shape& shape) const;
  // Elements [begin, end) of the flattened tensor, as a 1-D view.
  Tensor slice_flat(int64_t begin, int64_t end) const;

  // "f32[3, 4, 7, 5] cpu" for messages.
  std::string str() const;

 private:
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::f32;
  Device device_;
  Layout layout_ = Layout::rowmajor;
};

}  // namespace scenecam
