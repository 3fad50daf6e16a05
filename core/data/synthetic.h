#pragma once
// A small generated dataset in the notebook's handout format, for the headless demo and tests:
// each "image" is a colour, an object and a place; its feature vector is the sum of one fixed
// random vector per attribute plus noise, and its five captions name the three attributes.
#include <cstdint>
#include <string>
#include <vector>

namespace captioner {

struct SyntheticOptions {
  int64_t images = 400;
  int64_t feature_dim = 2048;
  double noise = 0.1;
  uint64_t seed = 1;
};

struct SyntheticImage {
  std::string colour, object, place;
};

// Writes DIR/image_codes.npy and DIR/captions_tokenized.json; returns each image's attributes.
std::vector<SyntheticImage> write_synthetic_handout(const std::string& dir, const SyntheticOptions& options);

}  // namespace captioner
