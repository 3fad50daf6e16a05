#pragma once
// Training batches: distinct images per batch, one of each image's captions drawn at random,
// START ... END, padded with PAD to the longest caption in the batch.
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/feature_table.h"
#include "core/data/vocabulary.h"
#include "core/util/random.h"

namespace captioner {

// Every caption of every image, encoded once (START + ids + END, truncated to max_len), and
// where each image's features live.
class EncodedCaptions {
 public:
  EncodedCaptions(const CaptionDataset& dataset, const Vocabulary& vocab, int64_t max_len);
  const std::vector<std::vector<int64_t>>& of(int64_t image) const { return captions_[static_cast<size_t>(image)]; }
  int64_t feature_row(int64_t image) const { return feature_rows_[static_cast<size_t>(image)]; }

 private:
  std::vector<int64_t> feature_rows_;
  std::vector<std::vector<std::vector<int64_t>>> captions_;
};

// [B, longest] int64 tensor, PAD after each sequence's end.
torch::Tensor pad_sequences(const std::vector<const std::vector<int64_t>*>& sequences, int64_t pad_id);

// Walks a shuffled pool of images epoch by epoch. A batch never repeats an image: when fewer than
// batch_size images are left in an epoch, the rest are skipped and a new epoch begins.
class ImageSampler {
 public:
  ImageSampler(std::vector<int64_t> pool, uint64_t seed);
  std::vector<int64_t> next(int64_t batch_size);
  int64_t epoch() const { return epoch_; }
  std::string state() const;  // order, position, epoch and generator, as JSON text
  void restore(const std::string& state);

 private:
  void reshuffle();
  std::vector<int64_t> order_;
  size_t position_ = 0;
  int64_t epoch_ = 0;
  Rng rng_;
};

struct Batch {
  torch::Tensor features;       // [B, feature_dim] float32
  torch::Tensor tokens;         // [B, T] int64
  std::vector<int64_t> images;  // dataset indices
};

// A caption is drawn for every image of `images` (so the generator moves on as for the whole
// batch), but the batch holds only images [begin, end): one rank's share of a global batch.
Batch make_batch(const std::vector<int64_t>& images, const EncodedCaptions& captions, const FeatureTable& features,
                 Rng& caption_rng, size_t begin = 0, size_t end = static_cast<size_t>(-1));

}  // namespace captioner
