#include "core/data/dataset.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "core/util/errors.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"

#include "ui/feature_cache_location.h"
#include "ui/train_worker.h"

#include <QElapsedTimer>
#include <QFileInfo>

#include <cmath>
#include <filesystem>

namespace captioner::ui {

QString run_state_name(RunState state) {
  switch (state) {
    case RunState::Idle: return QStringLiteral("idle");
    case RunState::Preparing: return QStringLiteral("preparing");
    case RunState::Running: return QStringLiteral("running");
    case RunState::Paused: return QStringLiteral("paused");
    case RunState::Stopped: return QStringLiteral("stopped");
    case RunState::Finished: return QStringLiteral("finished");
    case RunState::Failed: return QStringLiteral("failed");
  }
  return QString();
}

namespace {

RunState run_state(TrainerState state) {
  switch (state) {
    case TrainerState::Running: return RunState::Running;
    case TrainerState::Paused: return RunState::Paused;
    case TrainerState::Stopped: return RunState::Stopped;
    case TrainerState::Finished: return RunState::Finished;
    case TrainerState::Failed: return RunState::Failed;
  }
  return RunState::Failed;
}

// Collects progress on the training thread and emits it at most every `interval_ms`.
class BatchingObserver : public TrainObserver {
 public:
  BatchingObserver(TrainWorker& worker, int interval_ms) : worker_(worker), interval_ms_(interval_ms) { clock_.start(); }
  void on_progress(const TrainProgress& p) override {
    pending_.push_back(
        {p.step, p.elapsed_s, p.wall_time, p.train_loss, p.validated ? p.val_loss : std::nan(""), p.step_captions_per_s, p.lr});
    status_.step = p.step;
    status_.total = p.total_steps;
    status_.captions_per_s = p.captions_per_s;
    status_.eta_s = p.eta_s;
    status_.lr = p.lr;
    status_.best_val = p.best_val_loss;
    status_.elapsed_s = p.elapsed_s;
    if (!p.samples.empty()) {
      status_.samples.clear();
      status_.samples_step = p.step;
      for (const auto& s : p.samples)
        status_.samples.push_back({QString::fromStdString(s.key), QString::fromStdString(s.image),
                                   QString::fromStdString(s.caption), QString::fromStdString(s.reference)});
    }
    if (p.validated || p.step == p.total_steps || clock_.elapsed() >= interval_ms_) flush();
  }
  void on_state(TrainerState state) override {
    flush();
    Q_EMIT worker_.stateChanged(run_state(state));
  }
  void on_message(const std::string& text) override { Q_EMIT worker_.message(QString::fromStdString(text)); }
  void on_checkpoint(const std::string&, int64_t step) override { Q_EMIT worker_.checkpointSaved(step); }
  void flush() {
    if (!pending_.isEmpty()) Q_EMIT worker_.points(pending_);
    pending_.clear();
    Q_EMIT worker_.status(status_);
    status_.samples.clear();  // each validation's captions are sent once
    clock_.restart();
  }

 private:
  TrainWorker& worker_;
  int interval_ms_;
  QElapsedTimer clock_;
  QVector<TrainPoint> pending_;
  TrainStatus status_;
};

// Features for a dataset of image files, extracted into the cache locate_dataset_images names,
// unreadable images dropped; datasets with their own features are left as they are.
void prepare_features(CaptionDataset& dataset, TrainConfig& config, const std::string& image_dir, GridLayer layer,
                      const std::string& run_dir, TrainWorker& worker, const std::atomic<bool>& cancel) {
  if (dataset.format == DatasetFormat::Handout || !config.features_path.empty()) return;
  if (!image_dir.empty()) dataset.image_root = image_dir;
  const std::string cache = image_dir.empty() ? std::string()
                                              : shared_feature_cache(QString::fromStdString(image_dir), layer).toStdString();
  const DatasetImages where = locate_dataset_images(dataset, image_dir, cache, run_dir, layer);
  const std::string first = dataset.images.empty() ? dataset.source : dataset.image_root + "/" + dataset.images.front().file;
  if (where.image_dir.empty() || !std::filesystem::exists(first))
    throw DataError(first, "image not found; choose the folder that holds the dataset's images (File > Open dataset)");
  Encoder encoder = load_encoder_at_layer("", layer);
  class Progress : public ExtractObserver {
   public:
    explicit Progress(TrainWorker& w) : w_(w) {}
    void on_progress(const ExtractProgress& p) override {
      Q_EMIT w_.extraction(p.done, p.total, p.images_per_s, p.eta_s);
    }
   private:
    TrainWorker& w_;
  } progress(worker);
  const DatasetExtraction x = extract_dataset_features(encoder, dataset, where.image_dir, where.cache, &progress, &cancel);
  if (x.result.cancelled) throw ConfigError("feature extraction cancelled; what was extracted is kept for next time");
  for (const auto& failed : x.result.failed)
    Q_EMIT worker.message(QStringLiteral("skipped image: %1").arg(QString::fromStdString(failed.second)));
  if (!x.result.refreshed.empty())
    Q_EMIT worker.message(QStringLiteral("%1 image(s) changed since their features were cached and were encoded again")
                              .arg(x.result.refreshed.size()));
  config.features_path = x.pooled;
}

}  // namespace

TrainWorker::TrainWorker(QObject* parent) : QObject(parent) {}
TrainWorker::~TrainWorker() = default;

void TrainWorker::pause() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->control().request_pause();
}

void TrainWorker::unpause() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->control().request_unpause();
}

void TrainWorker::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->control().request_stop();
  else stop_early_ = true;
  cancel_extraction_ = true;
}

void TrainWorker::run(const TrainRequest& request) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_early_ = false;
    cancel_extraction_ = false;
  }
  const std::string run_dir = request.run_dir.toStdString();
  try {
    Q_EMIT stateChanged(RunState::Preparing);
    CaptionDataset dataset = read_dataset(request.dataset.toStdString());
    TrainConfig config = request.config;
    // A resumed run keeps the layer its features came from.
    const GridLayer layer = request.resume ? run_grid_layer(run_dir)
                                           : choose_grid_layer(request.layer.toStdString(), dataset, config.features_path, "");
    if (!request.resume && dataset.format != DatasetFormat::Handout)
      Q_EMIT message(QStringLiteral("encoder layer: %1%2").arg(QString::fromLatin1(grid_layer_name(layer)),
                                                               request.layer == QLatin1String("auto")
                                                                   ? QStringLiteral(" (automatic for these weights)")
                                                                   : QString()));
    prepare_features(dataset, config, request.image_dir.toStdString(), layer,
                     run_dir, *this, cancel_extraction_);
    std::unique_ptr<Trainer> trainer =
        request.resume ? Trainer::resume(run_dir, std::move(dataset), config.steps)
                       : std::make_unique<Trainer>(config, std::move(dataset), run_dir);
    // Published for pause/resume/stop from the GUI thread while it runs. The guard is declared
    // after `trainer`, so however this scope ends (an exception included) the pointer is cleared
    // before the Trainer is destroyed, never after.
    struct Publication {
      TrainWorker& worker;
      ~Publication() {
        std::lock_guard<std::mutex> lock(worker.mutex_);
        worker.trainer_ = nullptr;
      }
    } publication{*this};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_early_) trainer->control().request_stop();
      trainer_ = trainer.get();
    }
    if (request.resume) {  // the curves so far, from the run's saved history
      QVector<TrainPoint> past;
      for (const auto& r : trainer->history().rows)
        past.push_back({r.step, r.elapsed_s, r.wall_time, r.train_loss, r.val_loss, r.captions_per_s, r.lr});
      if (!past.isEmpty()) Q_EMIT points(past);
    }
    BatchingObserver observer(*this, 50);
    const TrainResult result = trainer->run(&observer);
    Q_EMIT finished(result.state != TrainerState::Failed, QString::fromStdString(result.error), request.run_dir);
  } catch (const std::exception& e) {
    if (cancel_extraction_) {  // Stop pressed while the features were extracted: stopped, not failed
      Q_EMIT message(QString::fromStdString(e.what()));
      Q_EMIT stateChanged(RunState::Stopped);
      Q_EMIT finished(true, QString(), request.run_dir);
      return;
    }
    Q_EMIT stateChanged(RunState::Failed);
    Q_EMIT finished(false, QString::fromStdString(e.what()), request.run_dir);
  }
}

}  // namespace captioner::ui
