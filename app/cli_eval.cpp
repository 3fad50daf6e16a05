#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/cli_data.h"
#include "app/cli_output.h"
#include "app/commands.h"
#include "core/data/coco_results.h"
#include "core/data/feature_table.h"
#include "core/data/shapes.h"
#include "core/eval/evaluation.h"
#include "core/infer/model_input.h"
#include "core/train/checkpoint.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/feature_cache.h"

namespace captioner::cli {

namespace {

struct EvalArgs {
  std::string model;
  std::string data;
  std::string split = "test";
  std::string images;
  std::string cache;
  std::string encoder;
  std::string features;
  std::string results;
  int beam = 1;
  int no_repeat_ngram = 0;
  double length_penalty = 1.0;
  int max_len = 20;
  bool json = false;
  std::string device = "auto";
  int64_t threads = 0;
};

Split parse_split(const std::string& name) {
  if (name == "train") return Split::Train;
  if (name == "val") return Split::Val;
  if (name == "test") return Split::Test;
  return Split::Unassigned;  // "all"
}

void add_eval_options(CLI::App* cmd, EvalArgs* a) {
  cmd->add_option("--model", a->model, "Run folder (or its checkpoint.pt)")->required();
  cmd->add_option("--data", a->data, "Shapes folder, COCO captions JSON, Karpathy JSON or handout folder")->required();
  cmd->add_option("--split", a->split, "Split to evaluate: train, val, test, or all")
      ->check(CLI::IsMember({"train", "val", "test", "all"}))->capture_default_str();
  cmd->add_option("--beam", a->beam, "Beam width (1 = greedy)")->check(CLI::Range(1, 100))->capture_default_str();
  cmd->add_option("--length-penalty", a->length_penalty, "Beam: rank by log p / length^alpha")->capture_default_str();
  cmd->add_option("--max-len", a->max_len, "Max generated tokens")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--no-repeat-ngram", a->no_repeat_ngram, "No caption repeats a sequence of N words (0 = off)")
      ->check(CLI::Range(0, 20))->capture_default_str();
  cmd->add_option("--images", a->images, "Image folder of a COCO/Karpathy dataset (a Shapes folder needs none)");
  cmd->add_option("--cache", a->cache, "Feature cache folder (default: DATASET/features, or DATASET/features-mixed5 for models of that layer)");
  cmd->add_option("--encoder", a->encoder, "Encoder weight file (default: the installed one)");
  cmd->add_option("--features", a->features, "Pooled feature .npy for data without image files (one row per image)");
  cmd->add_option("--results", a->results, "Also write the captions as COCO results [{image_id, caption}]");
  cmd->add_flag("--json", a->json, "Print the report as JSON");
  cmd->add_option("--device", a->device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
}

// The features the model reads for `dataset`, extracted first when the dataset has none yet: of
// the layer the model was trained on, in that layer's cache.
FeatureTable eval_features(const EvalArgs& a, const std::string& model_path, const LoadedCheckpoint& checkpoint,
                           CaptionDataset& dataset) {
  const std::string data_root = dataset.format == DatasetFormat::Handout ? dataset.source : dataset.image_root;
  std::string pooled = !a.features.empty() ? a.features : dataset.features_path;
  const GridLayer layer = trained_grid_layer(model_path, checkpoint.config);
  const DatasetImages where = locate_dataset_images(dataset, a.images, a.cache, data_root, layer);
  if (pooled.empty()) {
    if (where.image_dir.empty()) throw DataError(a.data, "has no image files here; pass --images DIR (or --features FILE)");
    Encoder encoder = load_encoder_for_model(model_path, checkpoint.config, a.encoder, resolve_device("auto"));
    pooled = extract_with_console_progress(dataset, where, encoder);
  }
  const bool grid = checkpoint.model->input() == FeatureInput::Grid;
  FeatureTable features = open_dataset_features(dataset, pooled, grid);
  if (features.dim() != checkpoint.config.model.feature_dim)
    throw DataError(grid ? grid_features_path(pooled) : pooled,
                    "rows have " + std::to_string(features.dim()) + " features; the model expects " +
                        std::to_string(checkpoint.config.model.feature_dim));
  return features;
}

std::vector<int64_t> images_of_split(const EvalArgs& a, const CaptionDataset& dataset) {
  const Split wanted = parse_split(a.split);
  std::vector<int64_t> images;
  for (size_t i = 0; i < dataset.images.size(); ++i)
    if (a.split == "all" || dataset.images[i].split == wanted) images.push_back(static_cast<int64_t>(i));
  if (images.empty())
    throw DataError(a.data, "has no images in the " + a.split + " split" +
                                (dataset.has_own_split() ? "" : " (it has no split of its own: use --split all)"));
  return images;
}

void print_json(const EvalArgs& a, const EvalReport& r, const std::string& decoding) {
  nlohmann::json j = scores_to_json(r.scores);
  j["images"] = r.images;
  j["split"] = a.split;
  j["decoding"] = decoding;
  j["mean_log_prob"] = r.mean_log_prob;
  if (r.has_objects) {
    j["content_accuracy"] = r.content_accuracy;
    j["pointing"] = r.pointing.words ? nlohmann::json(r.pointing.rate()) : nlohmann::json(nullptr);
    j["pointing_centre_baseline"] = r.pointing.words ? nlohmann::json(r.pointing.centre_rate()) : nlohmann::json(nullptr);
    j["pointing_words"] = r.pointing.words;
    const ObjectMentions& m = r.mentions;
    auto rate = [](double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); };
    j["chair_i"] = rate(m.chair_i());
    j["chair_s"] = rate(m.chair_s());
    j["object_recall"] = rate(m.recall());
    j["count_accuracy"] = rate(m.count_accuracy());
    j["counting_captions"] = m.counting_captions;
    j["repetition_rate"] = rate(m.repetition());
  }
  std::cout << j.dump(2) << '\n';
}

void print_text(const EvalArgs& a, const EvalReport& r, const std::string& decoding, const std::string& model_kind) {
  std::printf("%lld images (%s split), %s decoding, model %s\n", static_cast<long long>(r.images), a.split.c_str(),
              decoding.c_str(), model_kind.c_str());
  std::printf("BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f  ROUGE-L %.4f  CIDEr-D %.4f\n", r.scores.bleu[0],
              r.scores.bleu[1], r.scores.bleu[2], r.scores.bleu[3], r.scores.rouge_l, r.scores.cider_d);
  std::printf("mean log-probability per word %.4f\n", r.mean_log_prob);
  if (!r.has_objects) return;
  std::printf("content accuracy %.4f\n", r.content_accuracy);
  const ObjectMentions& m = r.mentions;
  std::printf("hallucination: CHAIR-i %.4f (%lld of %lld objects mentioned are not in the image), CHAIR-s %.4f\n",
              m.chair_i(), static_cast<long long>(m.hallucinated), static_cast<long long>(m.mentioned), m.chair_s());
  std::printf("object recall %.4f, repetition %.4f, ", m.recall(), m.repetition());
  if (m.counting_captions)
    std::printf("count accuracy %.4f (%lld captions give a number)\n", m.count_accuracy(),
                static_cast<long long>(m.counting_captions));
  else
    std::printf("count accuracy: no caption gives a number\n");
  if (r.pointing.words)
    std::printf("pointing game %.4f (centre-cell baseline %.4f) over %lld shape words\n", r.pointing.rate(),
                r.pointing.centre_rate(), static_cast<long long>(r.pointing.words));
  else
    std::printf("pointing game: no attention maps (an LSTM model) or no shape words to check\n");
}

int run_eval(const EvalArgs& a) {
  configure_threads(a.threads);
  const torch::Device device = resolve_device(a.device);
  const std::string path = std::filesystem::is_directory(a.model) ? checkpoint_path(a.model) : a.model;
  LoadedCheckpoint checkpoint = load_checkpoint(path, device);
  CaptionDataset dataset = read_dataset(a.data);
  const FeatureTable features = eval_features(a, path, checkpoint, dataset);
  const std::vector<int64_t> images = images_of_split(a, dataset);
  ShapesAnnotations shapes;
  if (dataset.format == DatasetFormat::Karpathy) shapes = read_shapes_annotations(dataset.source);

  DecodeOptions options;
  options.mode = a.beam > 1 ? DecodeMode::Beam : DecodeMode::Greedy;
  options.beam_width = a.beam;
  options.no_repeat_ngram = a.no_repeat_ngram;
  options.length_penalty = a.length_penalty;
  options.max_len = a.max_len;
  const EvalReport r = evaluate(*checkpoint.model, checkpoint.vocab, dataset, images, features, &shapes, options, device,
                                [](int64_t done, int64_t total) {
                                  if (done % 100 == 0 || done == total)
                                    std::fprintf(stderr, "eval: %lld/%lld images\n", static_cast<long long>(done),
                                                 static_cast<long long>(total));
                                });
  if (!a.results.empty()) {
    std::vector<std::pair<std::string, std::string>> results;
    for (const auto& e : r.per_image) results.emplace_back(dataset.images[static_cast<size_t>(e.image)].id, e.caption);
    write_results(a.results, results);
  }
  const std::string decoding = a.beam > 1 ? "beam " + std::to_string(a.beam) : std::string("greedy");
  if (a.json) print_json(a, r, decoding);
  else print_text(a, r, decoding, checkpoint.config.model.kind);
  return 0;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Caption a dataset split and score it (BLEU, ROUGE-L, CIDEr-D; on Shapes also "
                                         "content accuracy and the attention pointing game)");
  add_eval_options(cmd, a.get());
  return [a]() -> int { return run_eval(*a); };
}

}  // namespace captioner::cli
