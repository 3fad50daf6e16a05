#pragma once
// Small random draws shared by the Shapes renderer's files: all from the project's Rng, so a
// scene depends only on its seed and index, whatever the standard library.
#include <cstdint>
#include <vector>

#include "core/util/random.h"

namespace captioner::draw {

// Uniform in [0, 1).
inline double uniform(Rng& rng) { return static_cast<double>(rng.next() >> 11) * (1.0 / 9007199254740992.0); }
inline double uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * uniform(rng); }
// Uniform integer in [lo, hi].
inline int between(Rng& rng, int lo, int hi) {
  // The width in 64 bits: hi - lo + 1 in int overflows for the widest ranges.
  return lo + static_cast<int>(rng.below(static_cast<uint64_t>(static_cast<int64_t>(hi) - lo + 1)));
}
inline bool chance(Rng& rng, double p) { return uniform(rng) < p; }
template <typename T>
const T& pick(Rng& rng, const std::vector<T>& v) {
  return v[static_cast<size_t>(rng.below(v.size()))];
}

}  // namespace captioner::draw
