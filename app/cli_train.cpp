#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <set>
#include <iostream>

#include "app/cli_output.h"
#include "app/commands.h"
#include "core/checkpoint.h"
#include "core/dataset.h"
#include "core/encoder.h"
#include "core/errors.h"
#include "core/feature_cache.h"
#include "core/runtime.h"
#include "core/trainer.h"

namespace captioner::cli {

namespace {

// Encodes every image of `dataset` into the cache (skipping what is already there), drops the
// images that could not be read, and returns the pooled feature file, rows in dataset order.
std::string extract_dataset_features(CaptionDataset& dataset, const std::string& image_dir, const std::string& cache,
                                     const std::string& encoder_path, int64_t threads) {
  configure_threads(threads);
  Encoder encoder = load_encoder(encoder_path.empty() ? find_default_encoder() : encoder_path, resolve_device("auto"));
  std::vector<std::string> files;
  for (const auto& image : dataset.images) files.push_back(image_dir + "/" + image.file);
  class Progress : public ExtractObserver {
    void on_progress(const ExtractProgress& p) override {
      if (p.done == p.total || p.done % 200 < 8)
        std::fprintf(stderr, "features: %lld/%lld images, %.1f images/s, ETA %s\n", static_cast<long long>(p.done),
                     static_cast<long long>(p.total), p.images_per_s, format_duration(p.eta_s).c_str());
    }
  } progress;
  const ExtractResult r = extract_features(encoder, files, cache, {}, &progress);
  std::set<std::string> bad;
  for (const auto& [path, reason] : r.failed) {
    std::cerr << "skipped image: " << reason << '\n';
    bad.insert(path);
  }
  std::vector<ImageRecord> kept;
  for (size_t i = 0; i < dataset.images.size(); ++i) {
    if (bad.count(files[i])) continue;
    dataset.images[i].feature_row = static_cast<int64_t>(i);
    kept.push_back(std::move(dataset.images[i]));
  }
  if (kept.empty()) throw DataError(image_dir, "none of the dataset's images could be read");
  dataset.images = std::move(kept);
  return cache_files(cache, false).pooled;
}

struct TrainArgs {
  std::string data;
  std::string out;
  std::string images;
  std::string cache;
  std::string encoder;
  bool resume = false;
  int64_t log_every = 50;
  TrainConfig config;
};

}  // namespace

Command add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  TrainConfig& c = args->config;
  auto* cmd = app.add_subcommand("train", "Train a captioning model on a dataset");
  cmd->add_option("--data", args->data, "Handout folder, COCO captions JSON or Karpathy JSON")->required();
  cmd->add_option("--out", args->out, "Run folder: checkpoint.pt and history.csv are kept here")->required();
  cmd->add_option("--features", c.features_path, "Feature .npy for COCO/Karpathy data (one row per image, file order)");
  cmd->add_option("--images", args->images, "Image folder of a COCO/Karpathy dataset: features are extracted (and cached) first");
  cmd->add_option("--cache", args->cache, "Feature cache folder for --images (default: RUN_DIR/features)");
  cmd->add_option("--encoder", args->encoder, "Encoder weight file for --images (default: the installed one)");
  cmd->add_flag("--resume", args->resume, "Continue the run saved in --out (only --steps may change)");
  cmd->add_option("--steps", c.steps, "Training steps")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "Images per batch")->capture_default_str();
  cmd->add_option("--lr", c.lr, "Adam learning rate")->capture_default_str();
  cmd->add_option("--lr-decay", c.lr_decay, "Multiply the learning rate by this every --lr-decay-every steps")->capture_default_str();
  cmd->add_option("--lr-decay-every", c.lr_decay_every, "Steps between learning-rate decays")->capture_default_str();
  cmd->add_option("--grad-clip", c.grad_clip, "Max gradient norm (0 = off)")->capture_default_str();
  cmd->add_option("--max-len", c.max_len, "Max tokens per caption, START and END included")->capture_default_str();
  cmd->add_option("--min-count", c.min_count, "Keep words seen at least this often")->capture_default_str();
  cmd->add_option("--hidden", c.model.hidden, "LSTM hidden size")->capture_default_str();
  cmd->add_option("--embed", c.model.embed, "Word embedding size")->capture_default_str();
  cmd->add_option("--layers", c.model.layers, "LSTM layers")->capture_default_str();
  cmd->add_option("--dropout", c.model.dropout, "Dropout probability")->capture_default_str();
  cmd->add_option("--val-fraction", c.val_fraction, "Share of images held out when the data has no split")->capture_default_str();
  cmd->add_option("--val-every", c.val_every, "Steps between validations")->capture_default_str();
  cmd->add_option("--val-batches", c.val_batches, "Batches in the fixed validation subset")->capture_default_str();
  cmd->add_option("--checkpoint-every", c.checkpoint_every, "Steps between checkpoints")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Random seed (split, order, initialisation)")->capture_default_str();
  cmd->add_option("--device", c.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--threads", c.threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--log-every", args->log_every, "Print a progress line every N steps")->capture_default_str();

  return [args, cmd]() -> int {
    const bool steps_given = cmd->count("--steps") > 0;
    CaptionDataset dataset = read_dataset(args->data);
    if (!args->images.empty()) {
      if (dataset.format == DatasetFormat::Handout) throw ConfigError("--images is for COCO or Karpathy data; a handout folder has its features");
      if (!args->config.features_path.empty()) throw ConfigError("give either --images or --features");
      args->config.features_path = extract_dataset_features(dataset, args->images,
                                                            args->cache.empty() ? args->out + "/features" : args->cache,
                                                            args->encoder, args->config.threads);
    }
    std::unique_ptr<Trainer> trainer;
    const std::string checkpoint = checkpoint_path(args->out);
    if (args->resume) {
      if (!std::filesystem::exists(checkpoint))
        throw DataError(checkpoint, "no checkpoint to resume from");
      trainer = Trainer::resume(args->out, std::move(dataset), steps_given ? args->config.steps : 0);
      std::cerr << "resuming " << args->out << " at step " << trainer->step() << " of " << trainer->config().steps << '\n';
    } else {
      if (std::filesystem::exists(checkpoint))
        throw DataError(args->out, "already holds a run; pass --resume to continue it or choose another --out");
      trainer = std::make_unique<Trainer>(args->config, std::move(dataset), args->out);
    }
    const BlasCheck blas = check_blas_speed();
    if (blas.slow) std::cerr << "warning: " << blas.advice << '\n';

    ConsoleTrainObserver observer(trainer->control(), args->log_every);
    const TrainResult result = trainer->run(&observer);
    switch (result.state) {
      case TrainerState::Finished:
        std::cerr << "finished at step " << result.step << "; model in " << checkpoint << '\n';
        return 0;
      case TrainerState::Stopped:
        std::cerr << "stopped at step " << result.step << "; continue with --resume\n";
        return 0;
      default:
        std::cerr << "error: training failed: " << result.error << '\n';
        return 1;
    }
  };
}

}  // namespace captioner::cli
