#pragma once
// Caption generation, word by word, for any StepModel: greedy, sampling (temperature, top-k,
// several samples at once) and beam search (batched across beams, length-normalised). Every
// token carries its log-probability and, for attention models, the attention map it was
// generated with, re-indexed with the beams.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/data/vocabulary.h"
#include "core/model/decode_options.h"
#include "core/model/step_model.h"

namespace captioner {

struct WordChoice {
  std::string word;
  float log_prob = 0;
};

struct DecodedToken {
  int64_t id = 0;
  std::string word;
  float log_prob = 0;            // log p(word | image, previous words) under the model (T = 1)
  std::vector<float> attention;  // the step's weights over the grid cells; empty for END and
                                 // for models without attention
  // The DecodeOptions::top_alternatives words the model found likeliest at this step, likeliest
  // first, with their log-probabilities (T = 1); words a caption never holds (START, PAD, UNK)
  // are not among them. The chosen word is one of them unless sampling drew a less likely one.
  std::vector<WordChoice> alternatives;
};

// A caption whose mean log-probability per word is below this is flagged unsure: the model was
// less sure of it than of most right captions (measured on Shapes: docs/cli.md, "How sure a
// caption is").
constexpr double kUnsureBelow = -0.3;

struct DecodedCaption {
  std::vector<DecodedToken> tokens;        // generated words; the final END is kept when one was produced
  double log_prob = 0;                     // sum over tokens
  double penalty = 0;                      // the revisit penalties of its tokens, summed
  bool finished = false;                   // ended with END rather than at max_len
  std::vector<std::string> words() const;  // without END
  std::string text() const;
  double mean_log_prob() const;               // log_prob / tokens.size()
  double score(double length_penalty) const;  // (log_prob - penalty) / tokens.size()^length_penalty
  bool unsure() const { return mean_log_prob() < kUnsureBelow; }
};

// Told after each step of greedy decoding or sampling, for each caption that grew: which one
// (the row of the batch, or the sample) and the caption so far. Beam search tells nothing until
// it ends (its best hypothesis is not known before).
using TokenObserver = std::function<void(size_t row, const DecodedCaption& so_far)>;

// features: one image, with a leading batch dimension of 1 ([1, dim] or [1, cells, dim]; a bare
// [dim] vector is accepted too), on the model's device. Decoding runs without gradients.
// Greedy returns one caption, sampling `samples`, beam search up to beam_width, best first.
std::vector<DecodedCaption> decode(StepModel& model, const Vocabulary& vocab, const torch::Tensor& features,
                                   const DecodeOptions& options, const TokenObserver& on_token = {});

// Greedy captions of several images at once (features [images, ...]), one per image: the
// caption decode() gives each image alone, computed as one batch (a server's throughput). Batched
// matrix products may round differently in the last bit, so a near-tie between two words could
// in principle resolve otherwise than for the image alone.
// `options` as for decode(), whatever their mode says.
std::vector<DecodedCaption> decode_greedy_batch(StepModel& model, const Vocabulary& vocab, const torch::Tensor& features,
                                                const DecodeOptions& options, const TokenObserver& on_token = {});

}  // namespace captioner
