#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "app/cli_output.h"
#include "app/commands.h"
#include "core/data/dataset.h"
#include "core/data/feature_table.h"
#include "core/data/synthetic.h"
#include "core/data/tokenizer.h"
#include "core/model/decoding.h"
#include "core/train/trainer.h"

namespace captioner::cli {

namespace {
struct DemoArgs {
  std::string dir;
  int64_t steps = 300;
  int64_t images = 400;
  int64_t threads = 0;
};
}  // namespace

Command add_demo_command(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand("demo", "Generate a small dataset, train on it and caption held-out images (headless)");
  cmd->add_option("--dir", a->dir, "Working folder (default: captioner-demo in the temp folder)");
  cmd->add_option("--steps", a->steps, "Training steps")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--images", a->images, "Generated images")->check(CLI::Range(20, 1000000))->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();

  return [a]() -> int {
    const std::filesystem::path dir =
        a->dir.empty() ? std::filesystem::temp_directory_path() / "captioner-demo" : std::filesystem::path(a->dir);
    const std::string data_dir = (dir / "data").string();
    const std::string run_dir = (dir / "run").string();
    std::filesystem::remove_all(run_dir);

    SyntheticOptions synth;
    synth.images = a->images;
    const auto truth = write_synthetic_handout(data_dir, synth);
    std::cout << "Generated " << truth.size() << " synthetic images with 5 captions each in " << data_dir << "\n";

    TrainConfig config;
    config.steps = a->steps;
    config.batch_size = 32;
    config.val_every = 50;
    config.val_batches = 2;
    config.checkpoint_every = a->steps;
    config.threads = a->threads;
    config.device = "auto";
    Trainer trainer(config, read_dataset(data_dir), run_dir);
    ConsoleTrainObserver observer(trainer.control(), 50);
    const TrainResult result = trainer.run(&observer);
    if (result.state == TrainerState::Failed) {
      std::cerr << "error: " << result.error << '\n';
      return 1;
    }

    std::cout << "\nHeld-out images, greedy captions:\n";
    const FeatureTable features = FeatureTable::open(data_dir + "/image_codes.npy");
    CaptionModel model = trainer.model();
    model->eval();
    int shown = 0;
    for (int64_t image : trainer.split().val) {
      if (shown++ == 6) break;
      const auto& t = truth[static_cast<size_t>(image)];
      const auto caption = decode(*model, trainer.vocabulary(), features.gather({image}), {}).front();
      std::cout << "  image " << image << " (" << t.colour << " " << t.object << ", " << t.place << "): " << caption.text()
                << '\n';
    }
    std::cout << "\nModel saved in " << run_dir << "; try:\n  captioner caption --model " << run_dir << " --features " << data_dir
              << "/image_codes.npy --index " << trainer.split().val.front() << " --mode sample --temperature 0.8 --samples 3\n";
    return 0;
  };
}

}  // namespace captioner::cli
