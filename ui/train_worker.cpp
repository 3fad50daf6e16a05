#include "core/train/trainer.h"
#include "core/train/training_job.h"
#include "core/util/errors.h"

#include "ui/train_worker.h"

#include <QElapsedTimer>
#include <QFileInfo>

#include <cmath>

namespace captioner::ui {

QString run_state_name(RunState state) {
  switch (state) {
    case RunState::Idle:
      return QStringLiteral("idle");
    case RunState::Preparing:
      return QStringLiteral("preparing");
    case RunState::Running:
      return QStringLiteral("running");
    case RunState::Paused:
      return QStringLiteral("paused");
    case RunState::Stopped:
      return QStringLiteral("stopped");
    case RunState::Finished:
      return QStringLiteral("finished");
    case RunState::Failed:
      return QStringLiteral("failed");
  }
  return QString();
}

namespace {

RunState run_state(TrainerState state) {
  switch (state) {
    case TrainerState::Running:
      return RunState::Running;
    case TrainerState::Paused:
      return RunState::Paused;
    case TrainerState::Stopped:
      return RunState::Stopped;
    case TrainerState::Finished:
      return RunState::Finished;
    case TrainerState::Failed:
      return RunState::Failed;
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

// Extraction progress and the preparation's notes, as signals.
class PreparationReport : public TrainPreparationObserver {
 public:
  explicit PreparationReport(TrainWorker& worker) : worker_(worker) {}
  void on_progress(const ExtractProgress& p) override { Q_EMIT worker_.extraction(p.done, p.total, p.images_per_s, p.eta_s); }
  void on_note(const std::string& text) override { Q_EMIT worker_.message(QString::fromStdString(text)); }

 private:
  TrainWorker& worker_;
};

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
  if (trainer_)
    trainer_->control().request_stop();
  else
    stop_early_ = true;
  cancel_extraction_ = true;
}

void TrainWorker::run(const TrainRequest& request) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_early_ = false;
    cancel_extraction_ = false;
  }
  const QString run_dir = QString::fromStdString(request.run_dir);
  try {
    Q_EMIT stateChanged(RunState::Preparing);
    PreparationReport report(*this);
    std::unique_ptr<Trainer> trainer = start_trainer(prepare_training(request, &report, &cancel_extraction_), request);
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
    Q_EMIT finished(result.state != TrainerState::Failed, QString::fromStdString(result.error), run_dir);
  } catch (const std::exception& e) {
    // Stop pressed while the features were extracted (Cancelled), or while the trainer was being
    // built: stopped, not failed.
    if (dynamic_cast<const Cancelled*>(&e) != nullptr || cancel_extraction_) {
      Q_EMIT message(QString::fromStdString(e.what()));
      Q_EMIT stateChanged(RunState::Stopped);
      Q_EMIT finished(true, QString(), run_dir);
      return;
    }
    Q_EMIT stateChanged(RunState::Failed);
    Q_EMIT finished(false, QString::fromStdString(e.what()), run_dir);
  }
}

}  // namespace captioner::ui
