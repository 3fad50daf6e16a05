#pragma once
// Evaluating a saved run end to end, as `captioner eval` and the desktop app both do: load the
// checkpoint, read the dataset, get the features of the layer the model was trained on
// (extracting them into the cache when the dataset has none yet), pick the split, decode and
// score. Also the report's JSON form, which the app keeps beside the run (evaluation.json).
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/data/dataset.h"
#include "core/eval/evaluation.h"
#include "core/model/decoding.h"
#include "core/vision/feature_cache.h"

namespace captioner {

struct RunEvalRequest {
  std::string model;              // run folder or checkpoint file
  std::string data;               // Shapes folder, COCO / Karpathy JSON or handout folder
  std::string split = "test";     // train, val, test or all
  bool val_without_test = false;  // split "test" on data without test images: the val split instead
  std::string images;             // image folder of a COCO / Karpathy dataset; empty: beside the file
  std::string cache;              // feature cache folder; empty: the layer's default beside the data
  std::string cache_parent;       // with images and no cache: the layer's cache goes in this folder
  std::string encoder;            // encoder weight file; empty: the installed one
  std::string features;           // pooled feature .npy for data without image files
  DecodeOptions decoding;
  std::string device = "auto";
  std::string precision = "auto";  // the encoder's, when images are encoded (load_encoder)
};

struct RunEvalObserver {
  virtual ~RunEvalObserver() = default;
  virtual void on_message(const std::string& text) {}             // skipped images and the like
  virtual void on_extraction(const ExtractProgress& progress) {}  // only when features are missing
  virtual void on_caption(int64_t done, int64_t total) {}
};

struct RunEvaluation {
  EvalReport report;
  CaptionDataset dataset;  // as evaluated: report.per_image[i].image indexes its images
  std::string model_kind;  // "lstm", "attention"
  std::string decoding;    // "greedy", "beam 3", ...
  std::string split;       // the split evaluated
};

// Throws DataError / ConfigError naming the file or setting at fault; a cancel (from another
// thread) throws ConfigError saying so.
RunEvaluation evaluate_run(const RunEvalRequest& request, RunEvalObserver* observer = nullptr,
                           const std::atomic<bool>* cancel = nullptr);

// The report as `captioner eval --json` prints it: BLEU-1..4, ROUGE-L, CIDEr-D, log-probability,
// and on Shapes content accuracy, pointing and the object-mention rates (null when undefined).
nlohmann::json eval_report_json(const RunEvaluation& evaluation);

}  // namespace captioner
