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

// augment_batch's arguments (Backend::augment_batch): images u8 [N, S, S, 3], transforms f32
// [N, kTransformFields], out f32 [N, 3, S, S], all row-major.
void check_augment_batch(const Tensor& images, const Tensor& transforms, const Tensor& out,
                         Device device);

// gather_batch's arguments (Backend::gather_batch): images u8 [D, S, S, 3], all_labels i32 [D],
// order i32 [B], transforms f32 [B, kTransformFields], labels i32 [B], out f32 [B, 3, S, S].
void check_gather_batch(const Tensor& images, const Tensor& all_labels, const Tensor& order,
                        const Tensor& transforms, const Tensor& labels, const Tensor& out,
                        Device device);

// step_totals_acc's arguments (Backend::step_totals_acc): logits [N, K] and loss [1] of one float
// dtype (float32 unless `float64_allowed`), labels i32 [N], totals f64 [kStepTotalsFields].
void check_step_totals(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                       const Tensor& totals, Device device, bool float64_allowed);

}  // namespace scenecam
