#include "core/eval/run_evaluation.h"

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/data/feature_table.h"
#include "core/data/shapes.h"
#include "core/infer/model_input.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"

namespace captioner {

namespace {

Split parse_split(const std::string& name) {
  if (name == "train") return Split::Train;
  if (name == "val") return Split::Val;
  if (name == "test") return Split::Test;
  if (name == "all") return Split::Unassigned;
  throw ConfigError("split '" + name + "': expected train, val, test or all");
}

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) throw Cancelled("evaluation cancelled");
}

// The features the model reads for `dataset`, extracted first when the dataset has none yet: of
// the layer the model was trained on, in that layer's cache.
FeatureTable eval_features(const RunEvalRequest& r, const std::string& model_path, const LoadedCheckpoint& checkpoint,
                           CaptionDataset& dataset, RunEvalObserver* observer, const std::atomic<bool>* cancel) {
  const std::string data_root = dataset.format == DatasetFormat::Handout ? dataset.source : dataset.image_root;
  std::string pooled = !r.features.empty() ? r.features : dataset.features_path;
  const GridLayer layer = trained_grid_layer(model_path, checkpoint.config);
  const DatasetImages where =
      locate_dataset_images(dataset, r.images, r.cache, r.cache_parent.empty() ? data_root : r.cache_parent, layer);
  if (pooled.empty()) {
    if (where.image_dir.empty()) throw DataError(r.data, "has no image files here; pass --images DIR (or --features FILE)");
    Encoder encoder = load_encoder_for_model(model_path, checkpoint.config, r.encoder, resolve_device(r.device), r.precision);
    class Forward : public ExtractObserver {
     public:
      explicit Forward(RunEvalObserver* o) : o_(o) {}
      void on_progress(const ExtractProgress& p) override {
        if (o_) o_->on_extraction(p);
      }
      void on_note(const std::string& text) override {
        if (o_) o_->on_message(text);
      }

     private:
      RunEvalObserver* o_;
    } forward(observer);
    pooled = extract_dataset_reporting(encoder, dataset, where, &forward, cancel);
  }
  const bool grid = checkpoint.model->input() == FeatureInput::Grid;
  FeatureTable features = open_dataset_features(dataset, pooled, grid);
  if (features.dim() != checkpoint.config.model.feature_dim)
    throw DataError(grid ? grid_features_path(pooled) : pooled, "rows have " + std::to_string(features.dim()) +
                                                                    " features; the model expects " +
                                                                    std::to_string(checkpoint.config.model.feature_dim));
  return features;
}

std::vector<int64_t> images_of_split(const std::string& split, const CaptionDataset& dataset) {
  const Split wanted = parse_split(split);
  std::vector<int64_t> images;
  for (size_t i = 0; i < dataset.images.size(); ++i)
    if (split == "all" || dataset.images[i].split == wanted) images.push_back(static_cast<int64_t>(i));
  return images;
}

// The split evaluated and its images: the requested one, or val for "test" on data without test
// images when the request allows it.
std::pair<std::string, std::vector<int64_t>> choose_images(const RunEvalRequest& r, const CaptionDataset& dataset) {
  std::string split = r.split;
  std::vector<int64_t> images = images_of_split(split, dataset);
  if (images.empty() && split == "test" && r.val_without_test) {
    split = "val";
    images = images_of_split(split, dataset);
  }
  if (images.empty())
    throw DataError(r.data, "has no images in the " + split + " split" +
                                (dataset.has_own_split() ? "" : " (it has no split of its own: use --split all)"));
  return {split, images};
}

}  // namespace

RunEvaluation evaluate_run(const RunEvalRequest& r, RunEvalObserver* observer, const std::atomic<bool>* cancel) {
  parse_split(r.split);  // a bad split is refused before anything is loaded
  const torch::Device device = resolve_device(r.device);
  const std::string path = model_checkpoint_file(r.model);
  LoadedCheckpoint checkpoint = load_checkpoint(path, device);
  RunEvaluation out;
  out.dataset = read_dataset(r.data);
  check_cancel(cancel);
  const FeatureTable features = eval_features(r, path, checkpoint, out.dataset, observer, cancel);
  const auto [split, images] = choose_images(r, out.dataset);
  ShapesAnnotations shapes;
  if (out.dataset.format == DatasetFormat::Karpathy) shapes = read_shapes_annotations(out.dataset.source);
  out.report = evaluate(*checkpoint.model, checkpoint.vocab, out.dataset, images, features, &shapes, r.decoding, device,
                        [&](int64_t done, int64_t total) {
                          check_cancel(cancel);
                          if (observer) observer->on_caption(done, total);
                        });
  out.model_kind = checkpoint.config.model.kind;
  out.split = split;
  out.decoding = describe(r.decoding);
  return out;
}

nlohmann::json eval_report_json(const RunEvaluation& e) {
  const EvalReport& r = e.report;
  const CaptionScores& s = r.scores;
  nlohmann::json j = {{"Bleu_1", s.bleu[0]}, {"Bleu_2", s.bleu[1]},  {"Bleu_3", s.bleu[2]},
                      {"Bleu_4", s.bleu[3]}, {"ROUGE_L", s.rouge_l}, {"CIDEr", s.cider_d}};
  j["images"] = r.images;
  j["split"] = e.split;
  j["decoding"] = e.decoding;
  j["mean_log_prob"] = r.mean_log_prob;
  if (r.has_objects) {
    auto rate = [](double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); };
    j["content_accuracy"] = rate(r.content_accuracy);
    j["pointing"] = r.pointing.words ? nlohmann::json(r.pointing.rate()) : nlohmann::json(nullptr);
    j["pointing_centre_baseline"] = r.pointing.words ? nlohmann::json(r.pointing.centre_rate()) : nlohmann::json(nullptr);
    j["pointing_words"] = r.pointing.words;
    const ObjectMentions& m = r.mentions;
    j["chair_i"] = rate(m.chair_i());
    j["chair_s"] = rate(m.chair_s());
    j["object_recall"] = rate(m.recall());
    j["count_accuracy"] = rate(m.count_accuracy());
    j["counting_captions"] = m.counting_captions;
    j["repetition_rate"] = rate(m.repetition());
    nlohmann::json bands = nlohmann::json::array();
    for (const ScoreBand& b : r.calibration)
      bands.push_back({{"lowest_score", b.lowest},
                       {"highest_score", b.highest},
                       {"images", b.images},
                       {"content_accuracy", rate(b.content_accuracy)}});
    j["calibration"] = bands;
    j["unsure"] = {{"threshold", r.unsure.threshold},
                   {"captions", r.unsure.unsure},
                   {"content_accuracy", rate(r.unsure.unsure_accuracy)},
                   {"other_captions", r.unsure.sure},
                   {"other_content_accuracy", rate(r.unsure.sure_accuracy)}};
  }
  return j;
}

}  // namespace captioner
