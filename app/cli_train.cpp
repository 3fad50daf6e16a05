#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>

#include "app/cli_data.h"
#include "app/cli_output.h"
#include "app/commands.h"
#include "app/local_ranks.h"
#include "app/progress_line.h"
#include "core/data/dataset.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/train/process_group.h"
#include "core/train/recipe.h"
#include "core/train/trainer.h"
#include "core/train/training_job.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"

namespace captioner::cli {

namespace {

struct TrainArgs {
  std::string data;
  std::string out;
  std::string images;
  std::string cache;
  std::string encoder;
  std::string layer = kRecommendedLayerChoice;
  std::string preset = "default";
  bool resume = false;
  int64_t log_every = 50;
  bool quiet = false;
  TrainConfig config = recommended_config();
  DistributedOptions distributed;
  int nproc = 1;
  double timeout_s = 60;
};

// Where the data comes from: the dataset, its images, features and cache, the run folder.
void add_data_options(CLI::App* cmd, TrainArgs* args) {
  TrainConfig& c = args->config;
  cmd->add_option("--data", args->data, "Shapes or handout folder, COCO captions JSON or Karpathy JSON")->required();
  cmd->add_option("--out", args->out, "Run folder: checkpoint.pt and history.csv are kept here")->required();
  cmd->add_option("--features", c.features_path, "Feature .npy for COCO/Karpathy data (one row per image, file order)");
  cmd->add_option("--images", args->images,
                  "Image folder of a COCO/Karpathy dataset: features are extracted (and cached) first "
                  "(a Shapes folder needs none)");
  cmd->add_option("--cache", args->cache,
                  "Feature cache folder (default: RUN_DIR/features with --images, DATASET/features for Shapes; features-mixed5 "
                  "for --layer mixed5)");
  cmd->add_option("--encoder", args->encoder, "Encoder weight file for --images (default: the installed one)");
  cmd->add_option("--layer", args->layer,
                  "Encoder layer whose 8x8 grid is used: mixed10 (the standard 2048-d grid), mixed5 (768-d, "
                  "before the layers nsfwjs fine-tuned; see the README) or auto (mixed5 for nsfwjs weights, "
                  "mixed10 for torchvision's)")
      ->check(CLI::IsMember({"auto", "mixed10", "mixed5"}))
      ->capture_default_str();
  cmd->add_flag("--resume", args->resume, "Continue the run saved in --out (only --steps may change)");
}

// The preset, the model kind and the optimisation: TrainConfig's fields, with their defaults.
void add_optimisation_options(CLI::App* cmd, TrainArgs* args) {
  TrainConfig& c = args->config;
  std::string presets;
  for (const auto& p : train_presets())
    presets +=
        "\n  " + p.name + ": " + std::to_string(p.steps) + " steps, batch " + std::to_string(p.batch_size) + "; " + p.summary;
  cmd->add_option("--preset", args->preset,
                  "Steps, batch size, validation and learning-rate schedule together "
                  "(options given beside it win):" +
                      presets)
      ->check(CLI::IsMember([] {
        std::vector<std::string> names;
        for (const auto& p : train_presets()) names.push_back(p.name);
        return names;
      }()))
      ->capture_default_str();
  cmd->add_option("--model", c.model.kind, "lstm (image vector -> LSTM state) or attention (soft attention over the 8x8 grid)")
      ->check(CLI::IsMember({"lstm", "attention"}))
      ->capture_default_str();
  cmd->add_option("--steps", c.steps, "Training steps (default: set by --preset)");
  cmd->add_option("--batch-size", c.batch_size, "Images per batch (default: set by --preset)");
  cmd->add_option("--lr", c.lr, "Adam learning rate")->capture_default_str();
  cmd->add_option("--lr-decay", c.lr_decay, "Multiply the learning rate by this every --lr-decay-every steps")
      ->capture_default_str();
  cmd->add_option("--lr-decay-every", c.lr_decay_every, "Steps between learning-rate decays (default: 40 % of --steps)");
  cmd->add_option("--grad-clip", c.grad_clip, "Max gradient norm (0 = off)")->capture_default_str();
  cmd->add_option("--max-len", c.max_len, "Max tokens per caption, START and END included")->capture_default_str();
  cmd->add_option("--min-count", c.min_count, "Keep words seen at least this often")->capture_default_str();
}

// The network's sizes and the attention model's variants.
void add_model_options(CLI::App* cmd, TrainArgs* args) {
  ModelConfig& m = args->config.model;
  cmd->add_option("--hidden", m.hidden, "LSTM hidden size")->capture_default_str();
  cmd->add_option("--embed", m.embed, "Word embedding size")->capture_default_str();
  cmd->add_option("--layers", m.layers, "LSTM layers")->capture_default_str();
  cmd->add_option("--dropout", m.dropout, "Dropout probability")->capture_default_str();
  cmd->add_option("--attention-dim", m.attention_dim, "Attention model: width of the projected grid cells")
      ->capture_default_str();
  cmd->add_option("--attention-penalty", m.attention_penalty,
                  "Attention model: weight of the doubly stochastic regularisation (lambda)")
      ->capture_default_str();
  cmd->add_option("--word-in-query", m.word_in_query,
                  "Attention model: the attention query also reads the word just read (true/false)")
      ->capture_default_str();
  cmd->add_option("--context-to-output", m.context_to_output,
                  "Attention model: the attended context also feeds the word prediction (true/false)")
      ->capture_default_str();
  cmd->add_option("--coverage", m.coverage,
                  "Attention model: the scores also read how much each cell was attended so far (true/false)")
      ->capture_default_str();
}

// Validation, checkpoints, where it runs and what it prints.
void add_run_options(CLI::App* cmd, TrainArgs* args) {
  TrainConfig& c = args->config;
  cmd->add_option("--val-fraction", c.val_fraction, "Share of images held out when the data has no split")->capture_default_str();
  cmd->add_option("--val-every", c.val_every, "Steps between validations (default: set by --preset)");
  cmd->add_option("--val-batches", c.val_batches, "Batches in the fixed validation subset (default: set by --preset)");
  cmd->add_option(
      "--checkpoint-every", c.checkpoint_every,
      "Steps between checkpoints (default: a tenth of --steps, or 100 if that is more; half the run under 200 steps)");
  cmd->add_option("--seed", c.seed, "Random seed (split, order, initialisation)")->capture_default_str();
  cmd->add_option("--device", c.device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--threads", c.threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--precision", c.precision,
                  "Matrix products: bf16 operands with fp32 accumulation (weights, optimizer, loss and checkpoints stay "
                  "fp32), fp32, or auto (bf16 where the CPU has bf16 units: AVX512-BF16 or AMX); also the encoder's, "
                  "when it extracts the features")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--log-every", args->log_every, "Print a progress line every N steps (on stderr)")->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress lines (warnings and errors still)");
}

// The model and its training: every TrainConfig field, with its default, in the order --help lists them.
void add_training_options(CLI::App* cmd, TrainArgs* args) {
  add_optimisation_options(cmd, args);
  add_model_options(cmd, args);
  add_run_options(cmd, args);
}

// Distributed training: one rank of N, or N local ranks started from here.
void add_distributed_options(CLI::App* cmd, TrainArgs* args) {
  auto& d = args->distributed;
  const std::string group = "Distributed";
  cmd->add_option("--nproc", args->nproc, "Run N ranks on this machine (file rendezvous) and wait for them")
      ->check(CLI::Range(1, 256))
      ->group(group);
  cmd->add_option("--world-size", d.world_size, "Ranks in the run (with --rank and --rendezvous: this process is one of them)")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--rank", d.rank, "This process's rank, 0 to world size - 1 (rank 0 writes the run folder)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--rendezvous", d.rendezvous, "tcp://HOST:PORT (rank 0 listens there) or file:///shared/path")->group(group);
  cmd->add_option("--dist-timeout", args->timeout_s, "Seconds a rank waits for the others before it gives up with an error")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str()
      ->group(group);
}

// The core's training request for these options.
TrainRequest train_request(const TrainArgs& a, bool steps_given, bool layer_given, bool model_given) {
  TrainRequest r;
  r.dataset = a.data;
  r.run_dir = a.out;
  r.image_dir = a.images;
  r.cache = a.cache;
  r.encoder = a.encoder;
  r.layer = a.layer;
  r.layer_chosen = layer_given;
  r.resume = a.resume;
  r.resume_steps = steps_given ? a.config.steps : 0;
  r.model_chosen = model_given;
  r.writes_run_dir = a.distributed.rank == 0;
  r.config = a.config;
  return r;
}

// Extraction progress and the preparation's notes, on stderr (rank 0 only speaks).
class ConsolePreparation : public TrainPreparationObserver {
 public:
  ConsolePreparation(bool speaks, bool progress) : speaks_(speaks), progress_(progress) {}
  void on_progress(const ExtractProgress& p) override {
    if (progress_) print_extraction_progress(p);
  }
  void on_note(const std::string& text) override {
    if (speaks_) ProgressLine::on_stderr().message(text);
  }

 private:
  bool speaks_;
  bool progress_;
};

// The command line for the ranks --nproc starts: this one without --nproc, each rank with an
// even share of the cores unless --threads says otherwise.
std::vector<std::string> rank_arguments(const TrainArgs& a) {
  std::vector<std::string> out;
  const auto own = own_arguments();
  for (size_t i = 0; i < own.size(); ++i) {
    if (own[i] == "--nproc") {
      ++i;
      continue;
    }
    if (own[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(own[i]);
  }
  if (a.config.threads == 0) {
    out.push_back("--threads");
    out.push_back(std::to_string(std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(a.nproc))));
  }
  return out;
}

// --resume continues a run as it was saved: an option that would change the model, its data or
// its training is refused, naming it, instead of being ignored. Where it runs (--device,
// --threads, --precision) and how long (--steps) may change.
void refuse_changes_on_resume(const TrainArgs& a, const CLI::App& cmd) {
  if (!a.resume) return;
  std::string given;
  for (const char* option : {"--preset",
                             "--model",
                             "--batch-size",
                             "--lr",
                             "--lr-decay",
                             "--lr-decay-every",
                             "--grad-clip",
                             "--max-len",
                             "--min-count",
                             "--hidden",
                             "--embed",
                             "--layers",
                             "--dropout",
                             "--attention-dim",
                             "--attention-penalty",
                             "--word-in-query",
                             "--context-to-output",
                             "--coverage",
                             "--val-fraction",
                             "--val-every",
                             "--val-batches",
                             "--checkpoint-every",
                             "--seed"})
    if (cmd.count(option) > 0) given += (given.empty() ? "" : ", ") + std::string(option);
  if (!given.empty())
    throw ConfigError("--resume continues the run in " + a.out + " as it was saved, and " + given +
                      " would change it; only --steps (and --device, --threads, --precision) may be given");
}

// --preset sets the fields it decides, except those given on the command line.
void apply_preset_where_not_given(TrainArgs& a, const CLI::App& cmd) {
  TrainConfig preset = a.config;
  apply_preset(preset, find_train_preset(a.preset));
  TrainConfig& c = a.config;
  if (!cmd.count("--steps")) c.steps = preset.steps;
  if (!cmd.count("--batch-size")) c.batch_size = preset.batch_size;
  if (!cmd.count("--val-every")) c.val_every = preset.val_every;
  if (!cmd.count("--val-batches")) c.val_batches = preset.val_batches;
  // What follows from the number of steps follows from the steps this run has, given or not.
  if (!cmd.count("--checkpoint-every")) c.checkpoint_every = derive_checkpoint_every(c.steps);
  if (!cmd.count("--lr-decay") && !cmd.count("--lr-decay-every")) {
    derive_lr_decay(c);
  } else if (!cmd.count("--lr-decay-every")) {
    const double decay = c.lr_decay;
    derive_lr_decay(c);
    c.lr_decay = decay;
  }
}

int run_training(TrainArgs& a, bool steps_given, bool layer_given, bool model_given) {
  const std::string checkpoint = RunFolder(a.out).checkpoint();
  a.distributed.timeout = std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1000));
  const bool distributed = a.distributed.world_size > 1;
  if (a.nproc > 1 && (distributed || !a.distributed.rendezvous.empty()))
    throw ConfigError("give either --nproc or --world-size, --rank and --rendezvous");
  a.distributed.validate();
  if (distributed || a.nproc > 1) require_distributed();
  const TrainRequest request = train_request(a, steps_given, layer_given, model_given);
  ConsolePreparation preparation(a.distributed.rank == 0, !a.quiet);
  PreparedTraining prepared = prepare_training(request, &preparation);
  if (a.nproc > 1) {
    // The features are extracted (above, once); the ranks find them in the cache.
    std::cerr << "starting " << a.nproc << " ranks\n";
    return run_local_ranks(a.nproc, rank_arguments(a), a.distributed.timeout);
  }
  std::unique_ptr<ProcessGroup> group;
  if (distributed) group = connect_process_group(a.distributed);
  std::unique_ptr<Trainer> trainer = start_trainer(std::move(prepared), request, group.get());
  if (a.resume && a.distributed.rank == 0)
    std::cerr << "resuming " << a.out << " at step " << trainer->step() << " of " << trainer->config().steps << '\n';
  if (distributed && a.distributed.rank == 0)
    std::cerr << "distributed: " << a.distributed.world_size << " ranks joined at " << a.distributed.rendezvous << '\n';
  const BlasCheck blas = check_blas_speed();
  if (blas.slow) std::cerr << "warning: " << blas.advice << '\n';

  ConsoleTrainObserver observer(trainer->control(), a.log_every, a.distributed.rank == 0, !a.quiet);
  const TrainResult result = trainer->run(&observer);
  const bool speaks = a.distributed.rank == 0;
  switch (result.state) {
    case TrainerState::Finished:
      if (speaks) std::cerr << "finished at step " << result.step << "; model in " << checkpoint << '\n';
      return 0;
    case TrainerState::Stopped:  // only a stop signal stops a run here: exit as a signalled program does
      if (speaks) std::cerr << "stopped at step " << result.step << "; continue with --resume\n";
      return observer.stop_exit_code();
    default:
      // A distributed failure names its rank already.
      std::cerr << "error: "
                << (distributed && result.error.rfind("rank ", 0) != 0 ? "rank " + std::to_string(a.distributed.rank) + ": " : "")
                << "training failed: " << result.error << '\n';
      return 1;
  }
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a captioning model on a dataset");
  add_data_options(cmd, args.get());
  add_training_options(cmd, args.get());
  add_distributed_options(cmd, args.get());
  return [args, cmd]() -> int {
    refuse_changes_on_resume(*args, *cmd);
    apply_preset_where_not_given(*args, *cmd);
    return run_training(*args, cmd->count("--steps") > 0, cmd->count("--layer") > 0, cmd->count("--model") > 0);
  };
}

}  // namespace captioner::cli
