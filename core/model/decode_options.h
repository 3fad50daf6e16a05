#pragma once
// How to decode a caption: the one options type from the service's API and the app's controls
// down to the decoder, with the one set of defaults (max length included) every front end uses.
// No LibTorch here, so GUI code can include it.
#include <cstdint>
#include <string>

namespace captioner {

constexpr double kDefaultRevisitPenalty = 5.0;

enum class DecodeMode { Greedy, Sample, Beam };
const char* mode_name(DecodeMode mode);
// "greedy", "sample" or "beam"; throws std::invalid_argument otherwise.
DecodeMode parse_mode(const std::string& name);

struct DecodeOptions {
  DecodeMode mode = DecodeMode::Greedy;
  double temperature = 1.0;     // sampling: p_i ∝ p_i^(1/T); T below kGreedyTemperature is greedy
  int top_k = 0;                // sampling: draw among the k likeliest words only (0 = all)
  int samples = 1;              // sampling: captions drawn at once
  int beam_width = 3;           // beam: hypotheses kept per step; 1 is greedy
  double length_penalty = 1.0;  // beam: rank by log p / length^alpha (1 = mean log-probability per word)
  int max_len = 20;             // generated tokens, END included
  uint64_t seed = 0;            // sampling: same seed, same captions
  int no_repeat_ngram = 0;      // N > 0: no caption repeats a sequence of N words (0 = off)
  int top_alternatives = 0;     // per word, the k words the model found likeliest there (0 = none)
  // Attention models: a word the caption has already said loses up to this much log-probability
  // when the step's attention points where it said it (decoding.cpp, same_place); 0 = off.
  double revisit_penalty = kDefaultRevisitPenalty;
};

constexpr double kGreedyTemperature = 1e-3;

// "greedy", "beam 3", "sampled", with the repeat controls that differ from the defaults, e.g.
// "beam 3, no repeated 4-grams, revisit penalty 0": how a report's captions were made.
std::string describe(const DecodeOptions& options);

}  // namespace captioner
