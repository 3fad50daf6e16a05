#pragma once
// The training thread's side of the bridge: a worker object moved to a QThread. It runs the core
// Trainer, and hands progress to the GUI only through queued signals, batched so a fast run
// cannot flood the event loop. Widgets never see the trainer; the trainer never sees widgets.
// No LibTorch in this header: the widgets that include it compile without it.
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVector>

#include <atomic>
#include <memory>
#include <mutex>

#include "core/train/train_request.h"

namespace captioner {
class Trainer;
}

namespace captioner::ui {

// Where a run is, as the Training tab shows it: Preparing (reading the data, extracting features)
// before the trainer's own states.
enum class RunState { Idle, Preparing, Running, Paused, Stopped, Finished, Failed };
QString run_state_name(RunState state);  // "idle", "preparing", "running", ...
inline bool is_active(RunState state) {
  return state == RunState::Preparing || state == RunState::Running || state == RunState::Paused;
}

// One row of a run's history as the plot receives it (HistoryRow's fields).
struct TrainPoint {
  qint64 step = 0;
  double elapsed_s = 0;
  double wall_time = 0;  // Unix seconds; 0 when not recorded
  double train_loss = 0;
  double val_loss = 0;  // NaN when no validation ran at this step
  double captions_per_s = 0;
  double lr = 0;
};

// A fixed validation image's caption at a validation (SampleCaption's fields).
struct TrainSample {
  QString key, image, caption, reference;
};

struct TrainStatus {
  qint64 step = 0, total = 0;
  double captions_per_s = 0, eta_s = 0, lr = 0, best_val = 0, elapsed_s = 0;
  QVector<TrainSample> samples;  // a validation's captions, in the one status that follows it; else empty
  qint64 samples_step = 0;       // the step they were made at
};

class TrainWorker : public QObject {
  Q_OBJECT
 public:
  explicit TrainWorker(QObject* parent = nullptr);
  ~TrainWorker() override;
  // Thread-safe: may be called from the GUI thread while run() works.
  void pause();
  void unpause();
  void stop();

 public Q_SLOTS:
  void run(const captioner::TrainRequest& request);

 Q_SIGNALS:
  void points(const QVector<captioner::ui::TrainPoint>& batch);
  void status(const captioner::ui::TrainStatus& status);
  void stateChanged(captioner::ui::RunState state);
  void message(const QString& text);
  void checkpointSaved(qint64 step);
  void extraction(qint64 done, qint64 total, double images_per_s, double eta_s);
  void finished(bool ok, const QString& error, const QString& run_dir);

 private:
  std::mutex mutex_;
  captioner::Trainer* trainer_ = nullptr;  // while run() works; guarded by mutex_
  bool stop_early_ = false;                // stop requested before the trainer existed
  std::atomic<bool> cancel_extraction_{false};
};

}  // namespace captioner::ui

Q_DECLARE_METATYPE(captioner::ui::RunState)
Q_DECLARE_METATYPE(captioner::ui::TrainPoint)
Q_DECLARE_METATYPE(captioner::ui::TrainStatus)
Q_DECLARE_METATYPE(captioner::TrainRequest)
