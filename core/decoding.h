#pragma once
// Caption generation, word by word, for any StepModel.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/step_model.h"
#include "core/vocabulary.h"

namespace captioner {

enum class DecodeMode { Greedy, Sample };

struct DecodeOptions {
  DecodeMode mode = DecodeMode::Greedy;
  double temperature = 1.0;  // sampling: p_i ∝ p_i^(1/T); T below kGreedyTemperature is greedy
  int samples = 1;           // sampling: captions drawn at once (greedy always returns one)
  int max_len = 20;          // generated tokens, END included
  uint64_t seed = 0;         // sampling: same seed, same captions
};

constexpr double kGreedyTemperature = 1e-3;

struct DecodedToken {
  int64_t id = 0;
  std::string word;
  float log_prob = 0;  // log p(word | image, previous words) under the model (T = 1)
};

struct DecodedCaption {
  std::vector<DecodedToken> tokens;  // generated words; the final END is kept when one was produced
  double log_prob = 0;               // sum over tokens
  bool finished = false;             // ended with END rather than at max_len
  std::vector<std::string> words() const;  // without END
  std::string text() const;
};

// features: [feature_dim] or [1, feature_dim], on the model's device. The model should be in eval
// mode; decoding runs without gradients.
std::vector<DecodedCaption> decode(StepModel& model, const Vocabulary& vocab, const torch::Tensor& features,
                                   const DecodeOptions& options);

}  // namespace captioner
