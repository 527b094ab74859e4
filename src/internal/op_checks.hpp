// Argument checks shared by every backend, so a wrong call reads the same whichever backend
// receives it: "conv2d_forward: argument 'y' has shape [3, 4, 6, 5], expected [3, 4, 7, 5]".
#pragma once

#include "scenecam/tensor.hpp"

namespace scenecam {

// The tensor is defined, lives on `device` and has dtype `dtype`.
void check_tensor(const char* op, const char* arg, const Tensor& t, Device device, DType dtype);
// As check_tensor, and the shape is exactly `expected`.
void check_tensor(const char* op, const char* arg, const Tensor& t, Device device, DType dtype,
                  const Shape& expected);
// The tensor has the given rank.
void check_rank(const char* op, const char* arg, const Tensor& t, int rank);
// The layout is one the backend implements for this op.
void check_layout(const char* op, const char* arg, const Tensor& t, Layout supported);

// explain_perturb's arguments (Backend::explain_perturb): float32 on `device`, of shapes that
// fit one another. The plan's contents stay on the device; a row whose source, kind or mask plane
// is out of range makes a copy of NaN (perturb_row_valid).
void check_explain_perturb(const Tensor& x, const Tensor& plan, const Tensor& base,
                           const Tensor& maps, const Tensor& out, Device device);

}  // namespace scenecam
