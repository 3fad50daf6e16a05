#pragma once
// From "train on this dataset into this run folder" to a trainer ready to run: the one path
// `captioner train` and the desktop app's Train button share. It refuses a request that cannot
// work before any feature is extracted (a resume with no checkpoint, a new run over a finished
// one), reads the dataset, chooses the encoder layer (a resumed run keeps its own), extracts the
// features of a dataset of image files into their cache, and builds or resumes the trainer.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/data/dataset.h"
#include "core/model/config.h"
#include "core/train/train_request.h"
#include "core/train/trainer.h"
#include "core/vision/feature_cache.h"
#include "core/vision/grid_layer.h"

namespace captioner {

class ProcessGroup;

// Progress of the extraction and the notes a user should read (layer, skipped images, fallbacks).
using TrainPreparationObserver = ExtractObserver;

struct PreparedTraining {
  CaptionDataset dataset;  // with its features (config.features_path or its own)
  TrainConfig config;      // the request's, with the features and model kind it will train with
  GridLayer layer = GridLayer::Mixed10;
  std::string source_fingerprint;  // dataset_fingerprint() of the dataset as read
};

// Where a run of `request` finds the images of `dataset` and caches their features at `layer`
// (image_dir empty: data without image files here).
DatasetImages training_images(const TrainRequest& request, const CaptionDataset& dataset, GridLayer layer);

// Throws DataError / ConfigError naming the file or option at fault (refusals name the command
// line's options: the desktop app cannot meet them, as it starts each run in a new folder and
// resumes only saved runs, keeping their layer), Cancelled when `cancel` is
// set during extraction (what was extracted is kept).
PreparedTraining prepare_training(const TrainRequest& request, TrainPreparationObserver* observer = nullptr,
                                  const std::atomic<bool>* cancel = nullptr);

// A new trainer, or the saved run resumed, on prepared data. `group` as for Trainer.
std::unique_ptr<Trainer> start_trainer(PreparedTraining prepared, const TrainRequest& request, ProcessGroup* group = nullptr);

}  // namespace captioner
