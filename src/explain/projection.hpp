// The first principal component of a layer's activations, for EigenCAM and EigenGradCAM.
#pragma once

#include <cstdint>
#include <vector>

namespace scenecam {

// pytorch-grad-cam's get_2d_projection for one image: the planes [C, hw] read as hw samples of C
// features, centred over the samples, projected onto their first right singular vector; returns
// the hw projections. The singular vector's sign, which an SVD leaves open, is chosen so that the
// projection correlates positively with the centred sum over channels (a map that highlights
// where the layer is most active), then by the sign of its largest entry.
std::vector<float> first_component_projection(const float* planes, int64_t C, int64_t hw);

// The top eigenvector of a symmetric n x n matrix (row-major, overwritten), by cyclic Jacobi
// rotations in double; returns its eigenvalue.
double top_eigenvector(std::vector<double>& matrix, int64_t n, std::vector<double>* vector);

}  // namespace scenecam
