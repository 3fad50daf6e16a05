#include "core/util/random.h"

#include <sstream>
#include <stdexcept>

namespace captioner {

uint64_t Rng::below(uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::below(0)");
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = engine_();
  while (x >= limit);
  return x % n;
}

std::string Rng::state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void Rng::restore(const std::string& state) {
  std::istringstream in(state);
  in >> engine_;
  if (in.fail()) throw std::invalid_argument("corrupt random generator state");
}

}  // namespace captioner
