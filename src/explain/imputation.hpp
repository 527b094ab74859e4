// ROAD's noisy linear imputation (Rong et al., ICML 2022, as pytorch-grad-cam's
// NoisyLinearImputer): each removed pixel takes the weighted mean of its eight neighbours (1/6
// for the four sharing a side, 1/12 for the diagonals; known neighbours fixed), one sparse linear
// system per channel, solved here by conjugate gradients; then Gaussian noise is added to the
// imputed pixels.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace scenecam {

// image [channels, S, S] in place; removed [S * S] (1 = impute). Returns the iterations the
// slowest channel took.
int noisy_linear_impute(float* image, int channels, int S, const std::vector<uint8_t>& removed,
                        float noise, std::mt19937& rng);

}  // namespace scenecam
