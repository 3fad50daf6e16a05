#include <CLI/CLI.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <iostream>

#include "app/cli_options.h"
#include "app/cli_output.h"
#include "app/commands.h"
#include "core/data/feature_table.h"
#include "core/infer/attention_overlay.h"
#include "core/infer/caption_pipeline.h"
#include "core/infer/caption_service.h"
#include "core/util/errors.h"
#include "core/util/printable.h"
#include "core/util/runtime.h"
#include "core/vision/image_io.h"

namespace captioner::cli {

namespace {

struct CaptionArgs {
  std::vector<std::string> images;
  std::string encoder;
  std::string model;
  std::string features;
  int64_t index = 0;
  std::string mode = "greedy";
  DecodeOptions decode;
  bool json = false;
  std::string attention_png;
  std::string device = "auto";
  std::string precision = "auto";
  int64_t threads = 0;
};

void write_attention_strip(const std::string& dir, const std::string& image_path, const torch::Tensor& rgb,
                           const DecodedCaption& caption) {
  std::vector<StripWord> words;
  for (const auto& t : caption.tokens)
    if (t.id != Vocabulary::kEnd) words.push_back({t.word, t.attention});
  const std::string out = dir + "/" + std::filesystem::path(image_path).stem().string() + ".attention.png";
  if (!cv::imwrite(out, attention_strip(to_bgr_mat(rgb), words))) throw DataError(out, "cannot write the attention strip");
  std::cerr << "attention: " << out << '\n';
}

void add_caption_options(CLI::App* cmd, CaptionArgs* a) {
  DecodeOptions& d = a->decode;
  cmd->add_option("images", a->images, "Image files to caption");
  cmd->add_option("--model", a->model, "Run folder (or its checkpoint.pt)")->required();
  cmd->add_option("--encoder", a->encoder, "Encoder weight file for image files (default: the installed one)");
  auto* features = cmd->add_option("--features", a->features,
                                   "Feature .npy file instead of image files: pooled [images, C] for LSTM models, "
                                   "grid [images, 64, C] for attention models");
  cmd->add_option("--index", a->index, "Row of the image in --features")->needs(features);
  features->excludes("images");
  cmd->add_option("--mode", a->mode, "greedy, sample or beam")
      ->check(CLI::IsMember({"greedy", "sample", "beam"}))
      ->capture_default_str();
  cmd->add_option("--temperature", d.temperature, "Sampling temperature T > 0 (p^(1/T); small T approaches greedy)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--top-k", d.top_k, "Sampling: only the k likeliest words (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--samples", d.samples, "Captions to sample")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--beam", d.beam_width, "Beam width (with --mode beam; also the number of captions shown)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--length-penalty", d.length_penalty, "Beam: rank by log p / length^alpha")->capture_default_str();
  cmd->add_option("--max-len", d.max_len, "Max generated tokens")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--seed", d.seed, "Sampling seed")->capture_default_str();
  add_repeat_options(cmd, d);
  cmd->add_flag("--json", a->json, "Print JSON with per-token log-probabilities and attention maps (64 numbers, row-major)");
  cmd->add_option("--attention-png", a->attention_png, "Write, per image, a strip of each word's attention over the image");
  cmd->add_option("--device", a->device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  add_encoder_precision_option(cmd, a->precision);
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
}

// Captions of one image's model input, printed as text or JSON.
std::vector<DecodedCaption> print_captions_of(const CaptionArgs& a, CaptionPipeline& pipeline, const torch::Tensor& features,
                                              const DecodeOptions& options, const std::string& key) {
  auto captions = pipeline.decode(features, options);
  if (a.json) {
    std::cout << captions_to_json(caption_results(captions), key) << '\n';
  } else {
    if (a.images.size() > 1) std::cout << printable(key) << ":\n";
    print_captions(captions);
  }
  return captions;
}

// `captioner caption --features F --index I`: the row of a feature file, checked against the model.
int caption_feature_row(const CaptionArgs& a, CaptionPipeline& pipeline, const DecodeOptions& options, bool index_given) {
  if (a.features.empty()) throw ConfigError("give image files, or --features FILE --index I");
  if (!index_given) throw ConfigError("--features needs --index");
  const FeatureTable table = FeatureTable::open(a.features);
  const bool grid_model = pipeline.attends();
  const size_t wanted_dims = grid_model ? 2 : 1;
  if (table.row_shape().size() != wanted_dims)
    throw DataError(a.features, std::string("rows are ") + (wanted_dims == 2 ? "vectors" : "grids") + "; the model expects " +
                                    (grid_model ? "grids [cells, features]" : "vectors [features]"));
  const int64_t wanted_dim = pipeline.checkpoint().config.model.feature_dim;
  if (table.dim() != wanted_dim)
    throw DataError(a.features,
                    "rows have " + std::to_string(table.dim()) + " features; the model expects " + std::to_string(wanted_dim));
  if (a.index < 0 || a.index >= table.rows())
    throw DataError(a.features, "has no row " + std::to_string(a.index) + " (it has " + std::to_string(table.rows()) + ")");
  print_captions_of(a, pipeline, table.gather({a.index}), options, a.features + "#" + std::to_string(a.index));
  return 0;
}

// `captioner caption IMAGE...`: each image encoded and captioned; a bad image is reported and
// the others carry on (exit 1 when any failed).
int caption_image_files(const CaptionArgs& a, CaptionPipeline& pipeline, const DecodeOptions& options,
                        const std::string& attention_png) {
  int failures = 0;
  for (const auto& image : a.images) {
    try {
      const auto rgb = load_image_rgb(image);
      const auto captions = print_captions_of(a, pipeline, pipeline.encode({rgb}), options, image);
      if (!attention_png.empty()) write_attention_strip(attention_png, image, rgb, captions.front());
    } catch (const DataError& e) {
      std::cerr << "error: " << e.what() << '\n';
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

// The folder for --attention-png, created; empty when the model has no attention to draw.
std::string attention_folder(const CaptionArgs& a, const CaptionPipeline& pipeline) {
  if (a.attention_png.empty()) return "";
  if (!pipeline.attends()) {
    std::cerr << "note: " << pipeline.checkpoint_file()
              << " is an LSTM model without attention; --attention-png writes nothing\n";
    return "";
  }
  std::error_code ec;
  std::filesystem::create_directories(a.attention_png, ec);
  if (ec) throw DataError(a.attention_png, "cannot create folder: " + ec.message());
  return a.attention_png;
}

int run_caption(const CaptionArgs& a, bool index_given) {
  configure_threads(a.threads);
  // Image files need the encoder; a feature row does not (its file may come from any encoder).
  CaptionPipeline pipeline(a.model, a.encoder, resolve_device(a.device), /*with_encoder=*/!a.images.empty(), a.precision);
  DecodeOptions options = a.decode;
  options.mode = parse_mode(a.mode);
  const std::string attention_png = attention_folder(a, pipeline);
  if (a.images.empty()) return caption_feature_row(a, pipeline, options, index_given);
  return caption_image_files(a, pipeline, options, attention_png);
}

}  // namespace

Command add_caption_command(CLI::App& app) {
  auto a = std::make_shared<CaptionArgs>();
  auto* cmd = app.add_subcommand("caption", "Caption image files, or rows of a feature file, with a trained model");
  add_caption_options(cmd, a.get());
  return [a, cmd]() -> int { return run_caption(*a, cmd->count("--index") > 0); };
}

}  // namespace captioner::cli
