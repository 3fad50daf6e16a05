#pragma once
// Caption metrics as the coco-caption toolkit computes them: BLEU-1..4 (corpus level, closest
// reference length), ROUGE-L (beta 1.2) and CIDEr-D (sigma 6, clipped n-gram counts, x10,
// document frequencies from the references being scored), after PTB-style tokenization with
// punctuation removed. Written from the metrics' definitions; the toolkit's quirks that change
// numbers are kept on purpose and noted where they happen.
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace captioner {

using Tokens = std::vector<std::string>;

// Lower-case, PTB-style splitting ("man's" -> "man 's", "don't" -> "do n't"), punctuation
// tokens removed, as the toolkit's tokenizer step leaves captions.
Tokens ptb_tokenize(std::string_view text);

// references[i]: the reference captions of image i; candidates[i]: the caption to score.
// All three throw std::invalid_argument when the sizes differ or an image has no reference.
std::array<double, 4> bleu(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& candidates);

struct PerImageScore {
  double corpus = 0;  // mean over images
  std::vector<double> per_image;
};
PerImageScore rouge_l(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& candidates);
PerImageScore cider_d(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& candidates);

struct CaptionScores {
  std::array<double, 4> bleu{};
  double rouge_l = 0;
  double cider_d = 0;
  std::vector<double> cider_per_image;
};
// Tokenizes raw captions with ptb_tokenize and computes every metric.
CaptionScores score_captions(const std::vector<std::vector<std::string>>& references, const std::vector<std::string>& candidates);

}  // namespace captioner
