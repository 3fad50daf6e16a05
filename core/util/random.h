#pragma once
// The core's random source for data order and caption choice. Deterministic across standard
// libraries (std::uniform_int_distribution is not), and its state round-trips through a string
// so checkpoints can resume the exact stream.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace captioner {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  // Uniform in [0, n) by rejection, n > 0.
  uint64_t below(uint64_t n);
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
  }
  std::string state() const;
  void restore(const std::string& state);

 private:
  std::mt19937_64 engine_;
};

}  // namespace captioner
