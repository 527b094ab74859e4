// How alike two maps are, for the model-randomisation sanity check (Adebayo et al., NeurIPS
// 2018): Spearman's rank correlation and SSIM.
#pragma once

#include <cstdint>

namespace scenecam {

// Spearman's rho of n values: Pearson's correlation of their ranks (ties share their mean
// rank); NaN when either side is constant (undefined, as scipy's spearmanr says).
double spearman(const float* a, const float* b, int64_t n);

// SSIM of two S x S maps with values in [0, 1] (data range 1): the mean over every 7 x 7
// window inside the maps (uniform weights) of Wang et al.'s index with C1 = 0.01^2 and
// C2 = 0.03^2, as scikit-image's structural_similarity computes it by default.
double ssim(const float* a, const float* b, int S);

}  // namespace scenecam
