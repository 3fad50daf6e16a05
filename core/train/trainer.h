#pragma once
// Training loop for the captioning models: Adam, gradient clipping, step learning-rate decay,
// validation on a fixed subset, atomic checkpoints, pause / unpause / stop from any thread.
// "Resume" always means continuing a saved run (Trainer::resume, `train --resume`).
// Plain C++: the GUI and the CLI both watch it through TrainObserver.
//
// On the CPU each step's batch is split between the threads (one LibTorch thread each): the
// steps are hundreds of small operations that a thread inside each operation does not speed
// up. Each share draws its own dropout masks and the gradients are summed in share order, so a
// run repeats exactly for the same seed and thread count; a different thread count gives the
// same gradients up to rounding and other dropout masks.
//
// Distributed (given a ProcessGroup): every rank draws the same global batch and trains on its
// share of it; the loss is normalised by the global number of real tokens and the gradients are
// summed over the ranks, so N ranks compute the gradient of the one-process run with the same
// seed and batch size. Rank 0's weights are broadcast at the start, ranks refuse to start unless
// their model, vocabulary, data and recipe agree, validation is sharded, a stop on any rank
// stops all at the same step, and only rank 0 writes (history and checkpoints).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/vocabulary.h"
#include "core/model/caption_model.h"
#include "core/model/config.h"
#include "core/run/history.h"
#include "core/train/process_group.h"

namespace captioner {

enum class TrainerState { Running, Paused, Stopped, Finished, Failed };

// A fixed validation image's greedy caption at a validation step.
struct SampleCaption {
  std::string key;        // the image's key in the dataset
  std::string image;      // its file, when the dataset has image files; empty otherwise
  std::string caption;    // what the model says now
  std::string reference;  // the dataset's first caption of it
  std::string text() const { return key + ": " + caption; }
};

struct TrainProgress {
  int64_t step = 0;
  int64_t total_steps = 0;
  double train_loss = 0;
  double val_loss = 0;  // NaN unless `validated`
  bool validated = false;
  double best_val_loss = 0;        // NaN until the first validation
  double captions_per_s = 0;       // smoothed training throughput (the display, the ETA)
  double step_captions_per_s = 0;  // this step's own throughput (the history)
  double eta_s = 0;
  double elapsed_s = 0;
  double wall_time = 0;  // Unix seconds when the step ended
  double lr = 0;
  int64_t skipped_updates = 0;  // steps whose gradient was not finite, so the weights were kept
  // At validation steps: greedy captions of a few fixed validation images.
  std::vector<SampleCaption> samples;
};

// Callbacks arrive on the training thread; implementations must hand data over, not block.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_progress(const TrainProgress& progress) {}
  virtual void on_state(TrainerState state) {}
  virtual void on_message(const std::string& text) {}
  virtual void on_checkpoint(const std::string& path, int64_t step) {}
};

// Thread-safe requests, honoured between two training steps.
class TrainControl {
 public:
  void request_pause();
  void request_unpause();
  void request_stop();
  bool stop_requested() const { return stop_.load(); }
  bool pause_requested() const;
  // Blocks while paused. Returns false when a stop was requested.
  bool wait_while_paused();

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool pause_ = false;
  std::atomic<bool> stop_{false};
};

struct TrainResult {
  TrainerState state = TrainerState::Finished;
  int64_t step = 0;
  std::string error;  // why it failed, when it did
};

class Trainer {
 public:
  // A new run in `run_dir` (created if needed): vocabulary and split come from `dataset`.
  // Throws DataError / ConfigError for bad data or settings. `group` (not owned; it must outlive
  // the trainer) makes this one rank of a distributed run; construction then waits for the others.
  Trainer(const TrainConfig& config, CaptionDataset dataset, const std::string& run_dir, ProcessGroup* group = nullptr);
  // Continues the run saved in `run_dir` (on every rank: a shared folder), with any world size.
  // steps > 0 changes the total number of steps.
  static std::unique_ptr<Trainer> resume(const std::string& run_dir, CaptionDataset dataset, int64_t steps = 0,
                                         ProcessGroup* group = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until the configured number of steps, a stop request, or a failure (NaN loss, I/O).
  // The last good checkpoint is kept in every case.
  TrainResult run(TrainObserver* observer = nullptr);
  // Records the fingerprint of the dataset as it was read, before unreadable images were left
  // out (TrainingState::source_fingerprint), for a later resume to compare before extracting.
  // Call before run(); a resumed run keeps the one it was saved with.
  void record_dataset_source(const std::string& fingerprint);

  TrainControl& control();
  const TrainConfig& config() const;
  const Vocabulary& vocabulary() const;
  const DatasetSplit& split() const;
  const History& history() const;
  int64_t step() const;
  CaptionModel model() const;

 private:
  Trainer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioner
