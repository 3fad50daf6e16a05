#include "core/train/training_job.h"

#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"

namespace captioner {

namespace {

// Refusals that must come before extraction, which can take hours.
void refuse_impossible(const TrainRequest& r) {
  const RunFolder run(r.run_dir);
  if (r.resume && !run.has_checkpoint()) throw DataError(run.checkpoint(), "no checkpoint to resume from");
  if (!r.resume && r.writes_run_dir && run.has_checkpoint())
    throw DataError(r.run_dir, "already holds a run; continue it (--resume) or choose another run folder (--out)");
  if (!r.image_dir.empty() && !r.config.features_path.empty()) throw ConfigError("give either --images or --features");
}

// What a resume takes from the saved run, checked before any feature is extracted (which can take
// hours): the same dataset, and the layer its features came from. Runs saved before the dataset as
// read was recorded are checked by the trainer, after extraction.
GridLayer check_resumed_run(const TrainRequest& r, const PreparedTraining& p) {
  const std::string path = RunFolder(r.run_dir).checkpoint();
  const LoadedCheckpoint saved = load_checkpoint(path);
  const std::string& source = saved.state.source_fingerprint;
  if (!source.empty() && source != p.source_fingerprint)
    throw DataError(p.dataset.source, "is not the dataset the run in " + r.run_dir + " was trained on");
  const GridLayer layer = trained_grid_layer(path, saved.config);
  if (r.layer_chosen && r.layer != "auto" && parse_grid_layer(r.layer) != layer)
    throw ConfigError("--layer " + r.layer + ": the run in " + r.run_dir + " was trained on " + grid_layer_name(layer) +
                      " features");
  return layer;
}

// A new run's layer, said to the user when the data meets the encoder.
GridLayer layer_for(const TrainRequest& r, const CaptionDataset& dataset, TrainPreparationObserver* observer) {
  const GridLayer layer = choose_grid_layer(r.layer, dataset, r.config.features_path, r.encoder);
  const bool meets_encoder = dataset.format != DatasetFormat::Handout && r.config.features_path.empty();
  if (observer && meets_encoder)
    observer->on_note(std::string("encoder layer: ") + grid_layer_name(layer) +
                      (r.layer == "auto" ? " (automatic for these weights)" : ""));
  return layer;
}

// The features the run trains on: extracted into the cache for a dataset of image files, or the
// given / the dataset's own, with the images whose rows hold none left out (saying which).
void prepare_features(const TrainRequest& r, PreparedTraining& p, TrainPreparationObserver* observer,
                      const std::atomic<bool>* cancel) {
  CaptionDataset& dataset = p.dataset;
  if (!p.config.features_path.empty()) {
    for (const auto& line : drop_images_without_features(p.config.features_path, dataset))
      if (observer) observer->on_note("warning: " + p.config.features_path + ": left out " + line);
    return;
  }
  if (dataset.format == DatasetFormat::Handout) return;
  const DatasetImages where = training_images(r, dataset, p.layer);
  if (where.image_dir.empty()) {
    if (!dataset.features_path.empty()) return;  // data that came with its feature file
    const std::string first = dataset.images.empty() ? dataset.source : dataset.image_root + "/" + dataset.images.front().file;
    throw DataError(first, "image not found; give the folder that holds the dataset's images");
  }
  configure_threads(p.config.threads);
  Encoder encoder = load_encoder_at_layer(r.encoder, p.layer, resolve_device(p.config.device), p.config.precision);
  p.config.features_path = extract_dataset_reporting(encoder, dataset, where, observer, cancel);
}

// The recipe's attention model reads the 8x8 grid; data with pooled vectors only (the notebook's
// image_codes.npy) trains the LSTM model instead, saying so.
void fall_back_without_grid(const TrainRequest& r, PreparedTraining& p, TrainPreparationObserver* observer) {
  if (r.resume || r.model_chosen || p.config.model.kind != "attention") return;
  const std::string pooled = !p.config.features_path.empty() ? p.config.features_path : p.dataset.features_path;
  if (!grid_features_path(pooled).empty()) return;
  p.config.model.kind = "lstm";
  if (observer)
    observer->on_note("note: " + pooled + " has image vectors but no 8x8 grid, so the LSTM model is trained " +
                      "(the attention model needs features extracted from the images)");
}

}  // namespace

DatasetImages training_images(const TrainRequest& r, const CaptionDataset& dataset, GridLayer layer) {
  return locate_dataset_images(dataset, r.image_dir, r.cache, r.cache_parent.empty() ? r.run_dir : r.cache_parent, layer);
}

PreparedTraining prepare_training(const TrainRequest& request, TrainPreparationObserver* observer,
                                  const std::atomic<bool>* cancel) {
  refuse_impossible(request);
  PreparedTraining p;
  p.config = request.config;
  p.dataset = read_dataset(request.dataset);
  p.source_fingerprint = dataset_fingerprint(p.dataset);
  if (!request.image_dir.empty()) p.dataset.image_root = request.image_dir;
  p.layer = request.resume ? check_resumed_run(request, p) : layer_for(request, p.dataset, observer);
  prepare_features(request, p, observer, cancel);
  fall_back_without_grid(request, p, observer);
  return p;
}

std::unique_ptr<Trainer> start_trainer(PreparedTraining prepared, const TrainRequest& request, ProcessGroup* group) {
  if (request.resume) return Trainer::resume(request.run_dir, std::move(prepared.dataset), request.resume_steps, group);
  auto trainer = std::make_unique<Trainer>(prepared.config, std::move(prepared.dataset), request.run_dir, group);
  trainer->record_dataset_source(prepared.source_fingerprint);
  return trainer;
}

}  // namespace captioner
