// ROAD (explain.hpp) and the sanity check's re-initialisation: the measurements that run the
// explained network on images the host has changed.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "explain/explainer_state.hpp"
#include "explain/imputation.hpp"
#include "internal/random.hpp"
#include "scenecam/metrics.hpp"

namespace scenecam {
namespace {

constexpr double kRoadFractions[] = {0.1, 0.3, 0.5, 0.7, 0.9};
constexpr float kRoadNoise = 0.01f;

// Softmax probabilities [count, K] of normalised host images x [count, 3, S, S], in batches.
std::vector<float> probabilities_of(Explainer::State& s, const std::vector<float>& x,
                                    int64_t count) {
  const int64_t B = s.config.train.batch_size, S = s.config.data.image_size,
                K = s.config.model.classes;
  const int64_t per = 3 * S * S;
  std::vector<float> p(count * K);
  for (int64_t first = 0; first < count; first += B) {
    const int64_t n = std::min(B, count - first);
    s.arena->reset();
    const Tensor images = s.arena->take(Shape{n, 3, S, S}, DType::f32, "road images");
    s.backend.copy(Tensor(const_cast<float*>(x.data() + first * per), images.shape(), DType::f32,
                          Device::cpu()),
                   images);
    StepContext ctx{s.backend, *s.arena, false};
    const float* z = s.batch.download_logits(s.model.forward(ctx, images));
    std::copy_n(z, n * K, p.data() + first * K);
  }
  softmax_rows(p, K);
  return p;
}

// Pixels from most to least relevant (NaN as the least); ties in random order.
std::vector<int64_t> relevance_order(const float* map, int64_t P, std::mt19937& rng) {
  std::vector<uint32_t> tie(P);
  std::vector<float> key(map, map + P);
  for (int64_t i = 0; i < P; ++i) {
    tie[i] = static_cast<uint32_t>(rng());
    if (std::isnan(key[i])) key[i] = -INFINITY;
  }
  std::vector<int64_t> order(P);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return key[a] != key[b] ? key[a] > key[b] : tie[a] < tie[b];
  });
  return order;
}

}  // namespace

RoadScores Explainer::road(const Dataset& data, const std::vector<int64_t>& indices,
                           const std::vector<float>& maps, const std::vector<int32_t>& targets) {
  State& s = *s_;
  const int64_t B = s.config.train.batch_size, S = s.config.data.image_size, P = S * S;
  const int64_t K = s.config.model.classes, n = static_cast<int64_t>(indices.size());
  constexpr int64_t kFractions = std::size(kRoadFractions);
  SC_CHECK(int64_t(maps.size()) == n * P && int64_t(targets.size()) == n, "road: ", maps.size(),
           " map values and ", targets.size(), " targets for ", n, " images of ", S, "x", S);
  std::mt19937 rng(derive_seed(s.config.runtime.seed, {0x70adu}));
  RoadScores r;
  std::vector<float> clean, perturbed;
  for (int64_t first = 0; first < n; first += B) {
    const int64_t count = std::min(B, n - first);
    Tensor images, labels;
    s.batch.load(data, indices.data() + first, count, false, 0, 0, &images, &labels);
    s.download(images, &clean);
    perturbed.clear();
    for (int64_t k = 0; k < count; ++k) {
      const std::vector<int64_t> order = relevance_order(maps.data() + (first + k) * P, P, rng);
      for (int most_first = 1; most_first >= 0; --most_first)
        for (double fraction : kRoadFractions) {
          std::vector<uint8_t> removed(P, 0);
          const int64_t m = std::llround(fraction * double(P));
          for (int64_t j = 0; j < m; ++j)
            removed[order[most_first ? j : P - 1 - j]] = 1;
          perturbed.insert(perturbed.end(), clean.begin() + k * 3 * P,
                           clean.begin() + (k + 1) * 3 * P);
          noisy_linear_impute(perturbed.data() + perturbed.size() - 3 * P, 3, int(S), removed,
                              kRoadNoise, rng);
        }
    }
    const std::vector<float> p = probabilities_of(s, perturbed, count * 2 * kFractions);
    for (int64_t k = 0; k < count; ++k)
      for (int64_t v = 0; v < 2 * kFractions; ++v) {
        const double prob = p[((k * 2 * kFractions) + v) * K + targets[first + k]];
        (v < kFractions ? r.morf : r.lerf) += prob / double(n * kFractions);
      }
    s.arena->reset();
  }
  return r;
}

void Explainer::reinitialise(const std::vector<std::string>& prefixes, uint64_t seed) {
  State& s = *s_;
  ResNet fresh(s.model.spec());
  fresh.materialize(s.backend, seed);
  const std::vector<ParamEntry>& from = fresh.params().entries();
  const std::vector<ParamEntry>& to = s.model.params().entries();
  for (size_t i = 0; i < to.size(); ++i)
    for (const std::string& prefix : prefixes)
      if (to[i].name.rfind(prefix + ".", 0) == 0 || to[i].name == prefix) {
        s.backend.copy(from[i].value, to[i].value);
        break;
      }
  for (const ParamEntry& e : to)
    if (e.name == "fc.weight") s.download(e.value, &s.fc_weights);
  s.fixation_net.reset();  // these copies of the weights are stale
  s.folded_biases.clear();
}

}  // namespace scenecam
