#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <set>
#include <iostream>

#include "app/cli_data.h"
#include "app/cli_output.h"
#include "app/commands.h"
#include "core/data/dataset.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"

namespace captioner::cli {

namespace {

struct TrainArgs {
  std::string data;
  std::string out;
  std::string images;
  std::string cache;
  std::string encoder;
  std::string layer = "mixed10";
  bool resume = false;
  int64_t log_every = 50;
  TrainConfig config;
};

// Where the data comes from: the dataset, its images, features and cache, the run folder.
void add_data_options(CLI::App* cmd, TrainArgs* args) {
  TrainConfig& c = args->config;
  cmd->add_option("--data", args->data, "Shapes or handout folder, COCO captions JSON or Karpathy JSON")->required();
  cmd->add_option("--out", args->out, "Run folder: checkpoint.pt and history.csv are kept here")->required();
  cmd->add_option("--features", c.features_path, "Feature .npy for COCO/Karpathy data (one row per image, file order)");
  cmd->add_option("--images", args->images, "Image folder of a COCO/Karpathy dataset: features are extracted (and cached) first "
                                            "(a Shapes folder needs none)");
  cmd->add_option("--cache", args->cache, "Feature cache folder (default: RUN_DIR/features with --images, DATASET/features for Shapes; features-mixed5 for --layer mixed5)");
  cmd->add_option("--encoder", args->encoder, "Encoder weight file for --images (default: the installed one)");
  cmd->add_option("--layer", args->layer, "Encoder layer whose 8x8 grid is used: mixed10 (the standard 2048-d grid) or mixed5 (768-d, before the layers nsfwjs fine-tuned; see the README)")
      ->check(CLI::IsMember({"mixed10", "mixed5"}))->capture_default_str();
  cmd->add_flag("--resume", args->resume, "Continue the run saved in --out (only --steps may change)");
}

// The model and its training: every TrainConfig field, with its default.
void add_training_options(CLI::App* cmd, TrainArgs* args) {
  TrainConfig& c = args->config;
  cmd->add_option("--model", c.model.kind, "lstm (image vector -> LSTM state) or attention (soft attention over the 8x8 grid)")
      ->check(CLI::IsMember({"lstm", "attention"}))->capture_default_str();
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
  cmd->add_option("--attention-dim", c.model.attention_dim, "Attention model: width of the projected grid cells")->capture_default_str();
  cmd->add_option("--attention-penalty", c.model.attention_penalty,
                  "Attention model: weight of the doubly stochastic regularisation (lambda)")->capture_default_str();
  cmd->add_option("--word-in-query", c.model.word_in_query,
                  "Attention model: the attention query also reads the word just read (true/false)")->capture_default_str();
  cmd->add_option("--context-to-output", c.model.context_to_output,
                  "Attention model: the attended context also feeds the word prediction (true/false)")->capture_default_str();
  cmd->add_option("--val-fraction", c.val_fraction, "Share of images held out when the data has no split")->capture_default_str();
  cmd->add_option("--val-every", c.val_every, "Steps between validations")->capture_default_str();
  cmd->add_option("--val-batches", c.val_batches, "Batches in the fixed validation subset")->capture_default_str();
  cmd->add_option("--checkpoint-every", c.checkpoint_every, "Steps between checkpoints")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Random seed (split, order, initialisation)")->capture_default_str();
  cmd->add_option("--device", c.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--threads", c.threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--log-every", args->log_every, "Print a progress line every N steps")->capture_default_str();

}

// The dataset with its features ready: extracted into the cache first when it has image files,
// or read from --features with the images whose rows hold none left out (saying which).
CaptionDataset prepare_data(TrainArgs& a, bool layer_given) {
  CaptionDataset dataset = read_dataset(a.data);
  GridLayer layer = parse_grid_layer(a.layer);
  if (a.resume) {  // a resumed run keeps its features' layer
    const GridLayer saved = run_grid_layer(a.out);
    if (layer_given && saved != layer)
      throw ConfigError("--layer " + a.layer + ": the run in " + a.out + " was trained on " +
                        grid_layer_name(saved) + " features");
    layer = saved;
  }
  const DatasetImages where = locate_dataset_images(dataset, a.images, a.cache, a.out, layer);
  if (!a.images.empty() && !a.config.features_path.empty()) throw ConfigError("give either --images or --features");
  if (!where.image_dir.empty() && a.config.features_path.empty()) {
    configure_threads(a.config.threads);
    Encoder encoder = load_encoder_at_layer(a.encoder, layer, resolve_device("auto"));
    a.config.features_path = extract_with_console_progress(dataset, where, encoder);
  } else if (!a.config.features_path.empty()) {
    for (const auto& line : drop_images_without_features(a.config.features_path, dataset))
      std::cerr << "warning: " << a.config.features_path << ": left out " << line << '\n';
  }
  return dataset;
}

int run_training(TrainArgs& a, bool steps_given, bool layer_given) {
  const std::string checkpoint = checkpoint_path(a.out);
  // Both refusals come before any feature extraction, which can take hours.
  if (a.resume && !std::filesystem::exists(checkpoint)) throw DataError(checkpoint, "no checkpoint to resume from");
  if (!a.resume && std::filesystem::exists(checkpoint))
    throw DataError(a.out, "already holds a run; pass --resume to continue it or choose another --out");
  CaptionDataset dataset = prepare_data(a, layer_given);
  std::unique_ptr<Trainer> trainer;
  if (a.resume) {
    trainer = Trainer::resume(a.out, std::move(dataset), steps_given ? a.config.steps : 0);
    std::cerr << "resuming " << a.out << " at step " << trainer->step() << " of " << trainer->config().steps << '\n';
  } else {
    trainer = std::make_unique<Trainer>(a.config, std::move(dataset), a.out);
  }
  const BlasCheck blas = check_blas_speed();
  if (blas.slow) std::cerr << "warning: " << blas.advice << '\n';

  ConsoleTrainObserver observer(trainer->control(), a.log_every);
  const TrainResult result = trainer->run(&observer);
  switch (result.state) {
    case TrainerState::Finished:
      std::cerr << "finished at step " << result.step << "; model in " << checkpoint << '\n';
      return 0;
    case TrainerState::Stopped:  // only Ctrl-C stops a run here: exit as an interrupted program does
      std::cerr << "stopped at step " << result.step << "; continue with --resume\n";
      return 130;
    default:
      std::cerr << "error: training failed: " << result.error << '\n';
      return 1;
  }
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a captioning model on a dataset");
  add_data_options(cmd, args.get());
  add_training_options(cmd, args.get());
  return [args, cmd]() -> int { return run_training(*args, cmd->count("--steps") > 0, cmd->count("--layer") > 0); };
}

}  // namespace captioner::cli
