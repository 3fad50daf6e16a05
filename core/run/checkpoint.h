#pragma once
// One checkpoint file holds everything a run needs: model weights, optimizer state, vocabulary,
// configuration, step, random generator states and loss history. Written atomically.
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>

#include <functional>
#include <memory>
#include <string>

#include "core/data/vocabulary.h"
#include "core/model/caption_model.h"
#include "core/model/config.h"
#include "core/run/history.h"
#include "core/vision/grid_layer.h"

namespace captioner {

struct TrainingState {
  int64_t step = 0;
  History history;
  std::string sampler_state;        // ImageSampler::state()
  std::string caption_rng_state;    // Rng::state() of the caption choice
  torch::Tensor torch_rng_state;    // the run's generator (dropout); undefined when not saved
  std::string dataset_fingerprint;  // dataset_fingerprint() of the images trained on
  // The same of the dataset as read, before unreadable images were left out: a resume compares it
  // before any feature is extracted. Empty in checkpoints written before it was recorded.
  std::string source_fingerprint;
};

struct CheckpointContents {
  const TrainConfig* config = nullptr;
  const Vocabulary* vocab = nullptr;
  CaptionModel model;
  torch::optim::Optimizer* optimizer = nullptr;  // may be null: a model-only export
  const TrainingState* state = nullptr;
};

// `before_rename` is the fault-injection point of write_file_atomically.
void save_checkpoint(const std::string& path, const CheckpointContents& contents,
                     const std::function<void()>& before_rename = {});

struct LoadedCheckpoint {
  TrainConfig config;
  Vocabulary vocab;
  CaptionModel model;  // on `device`, in eval mode
  TrainingState state;
  bool has_optimizer = false;
  torch::Tensor optimizer_state;  // the optimizer's bytes, checksum verified (format 2); undefined before
  std::shared_ptr<torch::serialize::InputArchive> archive;  // for restore_optimizer
  // "attention model, hidden 256, vocabulary 50, step 1500", for status lines and logs.
  std::string summary() const;
};

// The metadata record inside a checkpoint.
struct CheckpointMeta {
  TrainConfig config;
  Vocabulary vocab;
  int64_t step = 0;
  std::string sampler_state, caption_rng_state, dataset_fingerprint, source_fingerprint;
  std::string weights_checksum;  // empty in checkpoints written before it was recorded
  int version = 0;
  std::string record_checksums;  // JSON {record: FNV-1a}; format 2 on
};
// Parses and checks a metadata record (JSON): a Captioner checkpoint of a version this build
// reads, a valid configuration, a non-negative step, and a model that a file of `file_bytes`
// can hold (so a forged size cannot make the loader allocate gigabytes). Throws CheckpointError
// naming `path`.
CheckpointMeta read_checkpoint_meta(const std::string& text, const std::string& path, uint64_t file_bytes);

// Throws CheckpointError naming the file when it is missing, torn or not a checkpoint.
LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device = torch::kCPU);
// Throws CheckpointError naming `path` when the state is missing or does not fit the optimizer's model.
void restore_optimizer(const LoadedCheckpoint& checkpoint, torch::optim::Optimizer& optimizer, const std::string& path);

// The encoder layer whose features the run saved in `run_dir` was trained on (its encoder id says).
GridLayer run_grid_layer(const std::string& run_dir);
// The same for a loaded checkpoint's configuration; `path` names the checkpoint in the DataError
// thrown for an id of an unknown or superseded grid.
GridLayer trained_grid_layer(const std::string& path, const TrainConfig& config);

}  // namespace captioner
