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

// The pointing game. For every shape word of a caption that matches an object (same shape and,
// when the caption gives one, same colour), the word's attention argmax cell is a hit when its
// centre lies inside a matching object's box. The baseline always points at the cell holding the
// image centre.
struct Pointing {
  int64_t words = 0;        // shape words that matched an object and carried a map
  int64_t hits = 0;
  int64_t centre_hits = 0;  // the fixed centre-cell baseline on the same words
  double rate() const { return words ? static_cast<double>(hits) / static_cast<double>(words) : std::numeric_limits<double>::quiet_NaN(); }
  double centre_rate() const {
    return words ? static_cast<double>(centre_hits) / static_cast<double>(words) : std::numeric_limits<double>::quiet_NaN();
  }
};
void play_pointing_game(const DecodedCaption& caption, const std::vector<ShapeObject>& objects, int image_size,
                        Pointing& score);

struct EvaluatedImage {
  int64_t image = 0;  // dataset index
  std::string caption;
  double mean_log_prob = 0;
  bool names_exactly = false;  // Shapes only
};

struct EvalReport {
  int64_t images = 0;
  CaptionScores scores;
  double mean_log_prob = 0;  // per generated token (END included), averaged over images
  bool has_objects = false;  // the rest is for Shapes data only
  double content_accuracy = std::numeric_limits<double>::quiet_NaN();
  Pointing pointing;
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
