#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "app/cli_output.h"
#include "app/commands.h"
#include "core/checkpoint.h"
#include "core/decoding.h"
#include "core/errors.h"
#include "core/encoder.h"
#include "core/features.h"
#include "core/image_io.h"
#include "core/runtime.h"

namespace captioner::cli {

namespace {

struct CaptionArgs {
  std::vector<std::string> images;
  std::string encoder;
  std::string model;
  std::string features;
  int64_t index = 0;
  std::string mode = "greedy";
  double temperature = 1.0;
  int samples = 1;
  int max_len = 20;
  uint64_t seed = 0;
  bool json = false;
  std::string device = "auto";
  int64_t threads = 0;
};

}  // namespace

Command add_caption_command(CLI::App& app) {
  auto a = std::make_shared<CaptionArgs>();
  auto* cmd = app.add_subcommand("caption", "Caption image files, or rows of a feature file, with a trained model");
  cmd->add_option("images", a->images, "Image files to caption");
  cmd->add_option("--model", a->model, "Run folder (or its checkpoint.pt)")->required();
  cmd->add_option("--encoder", a->encoder, "Encoder weight file for image files (default: the installed one)");
  auto* features = cmd->add_option("--features", a->features, "Feature .npy file [images, features], instead of image files");
  cmd->add_option("--index", a->index, "Row of the image in --features")->needs(features);
  features->excludes("images");
  cmd->add_option("--mode", a->mode, "greedy or sample")->check(CLI::IsMember({"greedy", "sample"}))->capture_default_str();
  cmd->add_option("--temperature", a->temperature, "Sampling temperature T > 0 (p^(1/T); small T approaches greedy)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--samples", a->samples, "Captions to sample")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--max-len", a->max_len, "Max generated tokens")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON with per-token log-probabilities");
  cmd->add_option("--device", a->device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();

  return [a, cmd]() -> int {
    configure_threads(a->threads);
    const torch::Device device = resolve_device(a->device);
    const std::string path = std::filesystem::is_directory(a->model) ? checkpoint_path(a->model) : a->model;
    LoadedCheckpoint checkpoint = load_checkpoint(path, device);
    DecodeOptions options;
    options.mode = a->mode == "sample" ? DecodeMode::Sample : DecodeMode::Greedy;
    options.temperature = a->temperature;
    options.samples = a->samples;
    options.max_len = a->max_len;
    options.seed = a->seed;
    auto caption = [&](const torch::Tensor& features, const std::string& key) {
      const auto captions = decode(*checkpoint.model, checkpoint.vocab, features.to(device), options);
      if (a->json) std::cout << captions_to_json(captions, key) << '\n';
      else {
        if (a->images.size() > 1) std::cout << key << ":\n";
        print_captions(captions);
      }
    };

    if (a->images.empty()) {
      if (a->features.empty()) throw ConfigError("give image files, or --features FILE --index I");
      if (cmd->count("--index") == 0) throw ConfigError("--features needs --index");
      const FeatureTable features = FeatureTable::open(a->features);
      if (features.dim() != checkpoint.config.model.feature_dim)
        throw DataError(a->features, "rows have " + std::to_string(features.dim()) + " features; the model expects " +
                                         std::to_string(checkpoint.config.model.feature_dim));
      if (a->index < 0 || a->index >= features.rows())
        throw DataError(a->features, "has no row " + std::to_string(a->index) + " (it has " + std::to_string(features.rows()) + ")");
      caption(features.gather({a->index}), a->features + "#" + std::to_string(a->index));
      return 0;
    }

    const std::string& trained_with = checkpoint.config.encoder_id;
    if (trained_with.empty())
      throw DataError(path, "was trained on features of an unknown encoder (such as the notebook's image_codes.npy), so "
                            "it cannot caption image files; caption rows of its feature file with --features/--index, or "
                            "train on features from `captioner extract`");
    Encoder encoder = load_encoder(a->encoder.empty() ? find_default_encoder() : a->encoder, device);
    if (encoder.id != trained_with)
      throw DataError(path, "was trained on features of encoder " + trained_with + ", but the encoder in use is " +
                                encoder.id + "; pass the matching --encoder");
    int failures = 0;
    torch::NoGradGuard no_grad;
    for (const auto& image : a->images) {
      try {
        const auto input = inception_input(load_image_rgb(image)).unsqueeze(0).to(device);
        caption(encoder.net->forward(input).pooled, image);
      } catch (const DataError& e) {
        std::cerr << "error: " << e.what() << '\n';  // one bad image never stops the others
        ++failures;
      }
    }
    return failures == 0 ? 0 : 1;
  };
}

}  // namespace captioner::cli
