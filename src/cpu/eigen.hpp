// Eigen as the CPU backend uses it: row-major maps over tensor memory, no Eigen threading (the
// backend parallelises over batch or channels itself, so Eigen must stay serial inside), and a
// stack-allocation limit large enough that a product's packing buffers never come from malloc.
#pragma once

#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

namespace scenecam::cpu {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;

}  // namespace scenecam::cpu
