// DType, Device, Shape and Tensor: formatting, parsing and views.
#include "scenecam/tensor.hpp"

#include <cstdlib>
#include <sstream>

namespace scenecam {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::f16:
      return 2;
    case DType::bf16:
      return 2;
    case DType::u8:
      return 1;
    case DType::i32:
      return 4;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
    case DType::u8:
      return "u8";
    case DType::i32:
      return "i32";
  }
  return "?";
}

const char* layout_name(Layout layout) {
  return layout == Layout::nhwc ? "nhwc" : "rowmajor";
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    char* end = nullptr;
    long index = std::strtol(text.c_str() + 5, &end, 10);
    if (*end == '\0' && index >= 0 && index < 1024) return cuda(static_cast<int>(index));
  }
  fail("unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  return is_cpu() ? "cpu" : "cuda:" + std::to_string(index);
}

Shape::Shape(std::initializer_list<int64_t> dims) {
  assign(dims.begin(), dims.end());
}

Shape::Shape(const std::vector<int64_t>& dims) {
  assign(dims.data(), dims.data() + dims.size());
}

void Shape::assign(const int64_t* begin, const int64_t* end) {
  SC_CHECK(end - begin <= kMaxRank, "shape of rank ", end - begin, " exceeds the maximum rank ",
           kMaxRank);
  for (const int64_t* d = begin; d != end; ++d) {
    SC_CHECK(*d >= 0, "shape dimension ", *d, " is negative");
    dims_[rank_++] = *d;
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i)
    n *= dims_[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream s;
  s << '[';
  for (int i = 0; i < rank_; ++i)
    s << (i ? ", " : "") << dims_[i];
  s << ']';
  return s.str();
}

Tensor::Tensor(void* data, const Shape& shape, DType dtype, Device device, Layout layout)
    : data_(data), shape_(shape), dtype_(dtype), device_(device), layout_(layout) {
  SC_CHECK(layout != Layout::nhwc || shape.rank() == 4, "layout nhwc needs a 4-D shape, got ",
           shape.str());
}

Tensor Tensor::view(const Shape& shape) const {
  SC_CHECK(shape.numel() == numel(), "cannot view ", str(), " as ", shape.str(),
           ": element counts differ");
  SC_CHECK(layout_ == Layout::rowmajor, "cannot reshape a tensor of layout ", layout_name(layout_));
  return Tensor(data_, shape, dtype_, device_, Layout::rowmajor);
}

Tensor Tensor::slice_flat(int64_t begin, int64_t end) const {
  SC_CHECK(0 <= begin && begin <= end && end <= numel(), "slice [", begin, ", ", end, ") of ",
           str(), " is out of range");
  char* base = static_cast<char*>(data_) + static_cast<size_t>(begin) * dtype_size(dtype_);
  return Tensor(base, Shape{end - begin}, dtype_, device_);
}

std::string Tensor::str() const {
  std::string s = std::string(dtype_name(dtype_)) + shape_.str() + " " + device_.str();
  if (layout_ == Layout::nhwc) s += " nhwc";
  return s;
}

}  // namespace scenecam
