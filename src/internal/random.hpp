// Counter-based seeding: a generator for (seed, a, b, ...) that depends on nothing else, so a
// sample's augmentation or an epoch's order can be recomputed from the run's seed and position
// alone (which is what makes a resumed run identical to a straight one).
#pragma once

#include <cstdint>
#include <initializer_list>

#include "scenecam/elementwise.hpp"  // mix64

namespace scenecam {

inline uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> counters) {
  uint64_t h = mix64(seed);
  for (uint64_t c : counters)
    h = mix64(h ^ mix64(c));
  return h;
}

}  // namespace scenecam
