// Counter-based seeding: a generator for (seed, a, b, ...) that depends on nothing else, so a
// sample's augmentation or an epoch's order can be recomputed from the run's seed and position
// alone (which is what makes a resumed run identical to a straight one).
#pragma once

#include <cstdint>
#include <initializer_list>

namespace scenecam {

// SplitMix64's finaliser: a bijective mix of 64 bits.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> counters) {
  uint64_t h = mix64(seed);
  for (uint64_t c : counters)
    h = mix64(h ^ mix64(c));
  return h;
}

}  // namespace scenecam
