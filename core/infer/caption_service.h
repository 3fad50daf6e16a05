#pragma once
// Captioning image files with a trained model and its encoder, for interactive use: each image
// is encoded once and its features kept, so re-decoding with another mode or temperature costs
// only the decoder. Plain C++ types only (no LibTorch in this header), so GUI code can include it.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/model/decode_options.h"

namespace captioner {

struct CaptionWord {
  std::string word;
  float log_prob = 0;
  std::vector<float> attention;                             // weights over the grid cells, row-major; empty without attention
  std::vector<std::pair<std::string, float>> alternatives;  // the likeliest words there (DecodeOptions::top_alternatives)
};

struct CaptionResult {
  std::string text;
  double log_prob = 0;
  double mean_log_prob = 0;                // per generated token, END included
  bool unsure = false;                     // DecodedCaption::unsure
  bool finished = false;                   // ended with END rather than at the length limit
  std::vector<CaptionWord> tokens;         // as generated: the last is END when finished
  std::vector<CaptionWord> words() const;  // the caption's words: tokens without END
};

struct DecodedCaption;
struct DecodedToken;
CaptionResult caption_result(const DecodedCaption& caption);
CaptionWord caption_word(const DecodedToken& token);
std::vector<CaptionResult> caption_results(const std::vector<DecodedCaption>& captions);

// Captions as JSON, the one schema of `captioner caption --json` and the Caption tab's export:
// {"image", "captions": [{"text", "log_prob", "mean_log_prob", "unsure", "finished", "tokens": [{"word", "log_prob",
// "attention" (attention models only)}]}]}, on one line: several images make JSON Lines.
std::string captions_to_json(const std::vector<CaptionResult>& captions, const std::string& image);

// How an image compares with the model's training images (familiarity.h): the cosine similarity
// of its features to the nearest of them, against the similarity that 99 % of training images
// reach to their own nearest.
struct ImageFamiliarity {
  bool known = false;  // false: the run keeps no reference, or the image was not captioned
  double nearest = 0;
  double typical = 0;
  bool unlike_training = false;  // nearest < typical
};

class CaptionService {
 public:
  CaptionService();
  ~CaptionService();
  CaptionService(const CaptionService&) = delete;
  CaptionService& operator=(const CaptionService&) = delete;

  // Loads a run folder or checkpoint, and the encoder it was trained with (encoder_path, or the
  // installed default). Throws CheckpointError / DataError with the file and the reason,
  // including a model/encoder mismatch or a model trained on features of an unknown encoder.
  void load_model(const std::string& model_path, const std::string& encoder_path = "");
  bool has_model() const;
  bool model_attends() const;  // attention model: captions carry maps
  std::string model_summary() const;

  // Decodes (and encodes on first use) an image file. Throws DataError naming the file.
  std::vector<CaptionResult> caption(const std::string& image_path, const DecodeOptions& options);
  // For an image captioned before.
  ImageFamiliarity familiarity(const std::string& image_path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioner
