#pragma once
// How familiar an image is to a trained model: a sample of its training images' features is kept
// beside the run (familiarity.npy, written when training starts), and a new image's cosine
// similarity to its nearest training image is compared with how near training images are to one
// another. A Shapes model shown a photo captions it as confidently as a Shapes scene; this is
// what lets the Caption tab say that the image is unlike anything the model was trained on.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/data/feature_table.h"

namespace captioner {

// An image's signature: what the model reads ([B, C] vectors, or [B, cells, C] grids averaged over
// the cells), L2-normalised to [B, C].
torch::Tensor image_signature(const torch::Tensor& model_input);

// Writes RUN_DIR/familiarity.npy: the signatures of up to `count` of `rows` (feature-table rows of
// training images), drawn with `seed`.
void write_familiarity_reference(const std::string& run_dir, const FeatureTable& features, std::vector<int64_t> rows,
                                 uint64_t seed, int64_t count = 512);

struct Familiarity {
  torch::Tensor reference;  // [K, C] signatures; undefined when the run has none (older runs)
  // The similarity to its nearest other reference image that 99 % of the reference images reach:
  // an image below it is farther from the training images than almost all of them are from one
  // another.
  double typical = 0;
  bool available() const { return reference.defined() && reference.size(0) >= 2; }
  // The cosine similarity of `model_input` ([1, ...]) to its nearest reference image.
  double nearest(const torch::Tensor& model_input) const;
};

// Reads RUN_DIR/familiarity.npy; an empty Familiarity when the file does not exist. Throws
// DataError naming the file when it is unreadable.
Familiarity read_familiarity(const std::string& run_dir);

}  // namespace captioner
