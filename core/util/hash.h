#pragma once
// FNV-1a, 64-bit: a stable content hash for identities (datasets, encoder weights), not security.
#include <cstddef>
#include <cstdint>

namespace captioner {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;

// Continues hash `h` over `size` bytes at `data`.
inline uint64_t fnv1a(const void* data, size_t size, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace captioner
