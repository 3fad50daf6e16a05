#include <CLI/CLI.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <iostream>

#include "app/cli_output.h"
#include "app/commands.h"
#include "core/data/feature_table.h"
#include "core/infer/attention_overlay.h"
#include "core/infer/caption_service.h"
#include "core/infer/model_input.h"
#include "core/model/decoding.h"
#include "core/train/checkpoint.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"
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
  int64_t threads = 0;
};

// The image as 8-bit BGR for drawing.
cv::Mat to_bgr(const torch::Tensor& rgb) {
  const auto c = rgb.contiguous();
  cv::Mat view(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), CV_8UC3, c.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

void write_attention_strip(const std::string& dir, const std::string& image_path, const torch::Tensor& rgb,
                           const DecodedCaption& caption) {
  std::vector<StripWord> words;
  for (const auto& t : caption.tokens)
    if (t.id != Vocabulary::kEnd) words.push_back({t.word, t.attention});
  const std::string out = dir + "/" + std::filesystem::path(image_path).stem().string() + ".attention.png";
  if (!cv::imwrite(out, attention_strip(to_bgr(rgb), words))) throw DataError(out, "cannot write the attention strip");
  std::cerr << "attention: " << out << '\n';
}

}  // namespace

Command add_caption_command(CLI::App& app) {
  auto a = std::make_shared<CaptionArgs>();
  DecodeOptions& d = a->decode;
  auto* cmd = app.add_subcommand("caption", "Caption image files, or rows of a feature file, with a trained model");
  cmd->add_option("images", a->images, "Image files to caption");
  cmd->add_option("--model", a->model, "Run folder (or its checkpoint.pt)")->required();
  cmd->add_option("--encoder", a->encoder, "Encoder weight file for image files (default: the installed one)");
  auto* features = cmd->add_option("--features", a->features,
                                   "Feature .npy file instead of image files: pooled [images, C] for LSTM models, "
                                   "grid [images, 64, C] for attention models");
  cmd->add_option("--index", a->index, "Row of the image in --features")->needs(features);
  features->excludes("images");
  cmd->add_option("--mode", a->mode, "greedy, sample or beam")->check(CLI::IsMember({"greedy", "sample", "beam"}))->capture_default_str();
  cmd->add_option("--temperature", d.temperature, "Sampling temperature T > 0 (p^(1/T); small T approaches greedy)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--top-k", d.top_k, "Sampling: only the k likeliest words (0 = all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--samples", d.samples, "Captions to sample")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--beam", d.beam_width, "Beam width (with --mode beam; also the number of captions shown)")
      ->check(CLI::Range(1, 100))->capture_default_str();
  cmd->add_option("--length-penalty", d.length_penalty, "Beam: rank by log p / length^alpha")->capture_default_str();
  cmd->add_option("--max-len", d.max_len, "Max generated tokens")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--seed", d.seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON with per-token log-probabilities and attention maps (64 numbers, row-major)");
  cmd->add_option("--attention-png", a->attention_png, "Write, per image, a strip of each word's attention over the image");
  cmd->add_option("--device", a->device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();

  return [a, cmd]() -> int {
    configure_threads(a->threads);
    const torch::Device device = resolve_device(a->device);
    const std::string path = std::filesystem::is_directory(a->model) ? checkpoint_path(a->model) : a->model;
    LoadedCheckpoint checkpoint = load_checkpoint(path, device);
    CaptionModelImpl& model = *checkpoint.model;
    DecodeOptions options = a->decode;
    options.mode = parse_mode(a->mode);
    const bool grid_model = model.input() == FeatureInput::Grid;
    if (!a->attention_png.empty()) {
      if (!grid_model) {
        std::cerr << "note: " << path << " is an LSTM model without attention; --attention-png writes nothing\n";
        a->attention_png.clear();
      } else {
        std::error_code ec;
        std::filesystem::create_directories(a->attention_png, ec);
        if (ec) throw DataError(a->attention_png, "cannot create folder: " + ec.message());
      }
    }
    auto caption = [&](const torch::Tensor& image_features, const std::string& key) {
      const auto captions = decode(model, checkpoint.vocab, image_features.to(device), options);
      if (a->json) {
        std::vector<CaptionResult> results;
        for (const auto& c : captions) results.push_back(caption_result(c));
        std::cout << captions_to_json(results, key) << '\n';
      }
      else {
        if (a->images.size() > 1) std::cout << key << ":\n";
        print_captions(captions);
      }
      return captions;
    };

    if (a->images.empty()) {
      if (a->features.empty()) throw ConfigError("give image files, or --features FILE --index I");
      if (cmd->count("--index") == 0) throw ConfigError("--features needs --index");
      const FeatureTable table = FeatureTable::open(a->features);
      const size_t wanted_dims = grid_model ? 2 : 1;
      if (table.row_shape().size() != wanted_dims)
        throw DataError(a->features, std::string("rows are ") + (wanted_dims == 2 ? "vectors" : "grids") +
                                         "; the model expects " + (grid_model ? "grids [cells, features]" : "vectors [features]"));
      if (table.dim() != checkpoint.config.model.feature_dim)
        throw DataError(a->features, "rows have " + std::to_string(table.dim()) + " features; the model expects " +
                                         std::to_string(checkpoint.config.model.feature_dim));
      if (a->index < 0 || a->index >= table.rows())
        throw DataError(a->features, "has no row " + std::to_string(a->index) + " (it has " + std::to_string(table.rows()) + ")");
      caption(table.gather({a->index}), a->features + "#" + std::to_string(a->index));
      return 0;
    }

    Encoder encoder = load_encoder_for_model(path, checkpoint.config, a->encoder, device);
    int failures = 0;
    torch::NoGradGuard no_grad;
    for (const auto& image : a->images) {
      try {
        const auto rgb = load_image_rgb(image);
        const auto encoded = encoder.net->forward(inception_input(rgb).unsqueeze(0).to(device));
        const auto captions = caption(model_input(encoded, model.input()), image);
        if (!a->attention_png.empty()) write_attention_strip(a->attention_png, image, rgb, captions.front());
      } catch (const DataError& e) {
        std::cerr << "error: " << e.what() << '\n';  // one bad image never stops the others
        ++failures;
      }
    }
    return failures == 0 ? 0 : 1;
  };
}

}  // namespace captioner::cli
