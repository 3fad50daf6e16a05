#pragma once
// Evaluating a model on a dataset split: decode every image, score the captions with the COCO
// metrics, and on Shapes measure what the captions name and where the attention points.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/feature_table.h"
#include "core/data/shapes.h"
#include "core/data/vocabulary.h"
#include "core/eval/metrics.h"
#include "core/model/caption_model.h"
#include "core/model/decoding.h"

namespace captioner {

// Whether a caption names exactly the scene's set of (colour, shape) pairs.
bool names_exactly(const std::vector<std::string>& words, const std::vector<ShapeObject>& objects);

// Object hallucination and its neighbours, over captions of scenes whose objects are known.
// A caption's mentions are its (colour, shape) pairs (named_objects); a mention without a colour
// matches any object of that shape.
//   CHAIR-i  share of the distinct objects mentioned per caption that are not in the image, and
//   CHAIR-s  share of captions with at least one such object (Rohrbach et al., EMNLP 2018);
//   recall   share of the images' distinct objects that their caption names;
//   count accuracy  among captions with a number word (two, three, ...), the share whose number
//            is the image's object count;
//   repetition  share of captions that name the same object twice.
struct ObjectMentions {
  int64_t captions = 0;
  int64_t mentioned = 0;     // distinct objects mentioned, summed over captions
  int64_t hallucinated = 0;  // of those, not in the image
  int64_t hallucinating_captions = 0;
  int64_t objects = 0;            // distinct objects in the images
  int64_t recalled = 0;           // of those, named by the caption
  int64_t counting_captions = 0;  // captions with a number word
  int64_t right_counts = 0;
  int64_t repeating_captions = 0;
  double chair_i() const { return ratio(hallucinated, mentioned); }
  double chair_s() const { return ratio(hallucinating_captions, captions); }
  double recall() const { return ratio(recalled, objects); }
  double count_accuracy() const { return ratio(right_counts, counting_captions); }
  double repetition() const { return ratio(repeating_captions, captions); }

 private:
  static double ratio(int64_t a, int64_t b) {
    return b ? static_cast<double>(a) / static_cast<double>(b) : std::numeric_limits<double>::quiet_NaN();
  }
};
void count_object_mentions(const std::vector<std::string>& words, const std::vector<ShapeObject>& objects, ObjectMentions& score);

// The pointing game. For every shape word of a caption that matches an object (same shape and,
// when the caption gives one, same colour), the word's attention argmax cell is a hit when its
// centre lies inside a matching object's box. The baseline always points at the cell holding the
// image centre.
struct Pointing {
  int64_t words = 0;  // shape words that matched an object and carried a map
  int64_t hits = 0;
  int64_t centre_hits = 0;  // the fixed centre-cell baseline on the same words
  double rate() const {
    return words ? static_cast<double>(hits) / static_cast<double>(words) : std::numeric_limits<double>::quiet_NaN();
  }
  double centre_rate() const {
    return words ? static_cast<double>(centre_hits) / static_cast<double>(words) : std::numeric_limits<double>::quiet_NaN();
  }
};
void play_pointing_game(const DecodedCaption& caption, const std::vector<ShapeObject>& objects, int image_size, Pointing& score);

struct EvaluatedImage {
  int64_t image = 0;  // dataset index
  std::string caption;
  double mean_log_prob = 0;
  bool names_exactly = false;  // Shapes only
};

// Content accuracy by caption score (mean log-probability per word), Shapes only: the images in
// equal-count bands from the least to the most confident caption. Where the score means
// something, accuracy rises band by band.
struct ScoreBand {
  double lowest = 0, highest = 0;  // the band's scores
  int64_t images = 0;
  double content_accuracy = std::numeric_limits<double>::quiet_NaN();
};
// `bands` bands (fewer when there are fewer images); none without images.
std::vector<ScoreBand> score_bands(const std::vector<EvaluatedImage>& images, int bands);

// The captions a threshold flags as unsure (score below it) and the rest, with their accuracy.
struct UnsureSplit {
  double threshold = 0;
  int64_t unsure = 0, sure = 0;
  double unsure_accuracy = std::numeric_limits<double>::quiet_NaN();
  double sure_accuracy = std::numeric_limits<double>::quiet_NaN();
};
UnsureSplit split_by_score(const std::vector<EvaluatedImage>& images, double threshold);

struct EvalReport {
  int64_t images = 0;
  CaptionScores scores;
  double mean_log_prob = 0;  // per generated token (END included), averaged over images
  bool has_objects = false;  // the rest is for Shapes data only
  double content_accuracy = std::numeric_limits<double>::quiet_NaN();
  ObjectMentions mentions;
  Pointing pointing;
  std::vector<ScoreBand> calibration;  // Shapes only: score deciles
  UnsureSplit unsure;                  // Shapes only: at kUnsureBelow
  std::vector<EvaluatedImage> per_image;
};

// Decodes `images` (dataset indices; features row = image.feature_row) with `options` and scores
// them against the dataset's own captions. `shapes` may be null; its objects are indexed by
// feature_row (the image's position in the dataset file). `progress(done, total)` after each image.
EvalReport evaluate(CaptionModelImpl& model, const Vocabulary& vocab, const CaptionDataset& dataset,
                    const std::vector<int64_t>& images, const FeatureTable& features, const ShapesAnnotations* shapes,
                    const DecodeOptions& options, const torch::Device& device,
                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace captioner
