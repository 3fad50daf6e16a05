#pragma once
// The Training tab: the dataset, the form (TrainingForm), the run controls (RunControls), live
// loss curves (LossPlot), a status line and the current captions of a few fixed validation
// images. It owns the training thread: the run starts and reports through queued signals, and
// pause, resume and stop are the worker's thread-safe calls.
#include <QHash>
#include <QIcon>
#include <QSet>
#include <QString>
#include <QWidget>

#include "ui/train_worker.h"

class QLabel;
class QListWidget;
class QListWidgetItem;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QThread;

namespace captioner::ui {

class Evaluator;
class LossPlot;
class RunControls;
class RunList;
class TrainingForm;

struct DatasetDescription {
  QString text;   // what the dataset box shows
  QString error;  // why the dataset cannot be used; empty when it can
};

class TrainingTab : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingTab(QWidget* parent = nullptr);
  ~TrainingTab() override;

  // image_dir: the folder of a COCO / Karpathy file's images when they are not beside it.
  void setDataset(const QString& path, const QString& image_dir = QString());
  QString dataset() const { return dataset_; }
  bool isTraining() const { return is_active(state_); }
  // Asks the trainer to stop (it saves a checkpoint) and waits for the thread.
  void stopAndWait();
  LossPlot* plot() const { return plot_; }
  RunList* runList() const { return runs_; }
  Evaluator* evaluator() const { return evaluator_; }
  QString runsDir() const;
  RunState state() const { return state_; }
  QString lastRunDir() const { return last_run_; }
  void saveSettings() const;
  void loadSettings();

 public Q_SLOTS:
  void start();
  // Continues the run saved in `run_dir` on the current dataset (its settings come from the run).
  void resumeRun(const QString& run_dir);
  void pause();
  void unpause();
  void stop();
  // Evaluates a saved run on its dataset's test split (off the GUI thread); the run list shows
  // the scores when it is done.
  void evaluateRun(const QString& run_dir);
  void showReport(const QString& run_dir);

 Q_SIGNALS:
  void trainingFinished(const QString& run_dir, bool ok);
  void stateChanged(captioner::ui::RunState state);
  void errorOccurred(const QString& text);
  // The dataset box has been filled in (read off the GUI thread); ok: the dataset can be used.
  void datasetDescribed(bool ok);
  void requestRun(const captioner::TrainRequest& request);
  void evaluationFinished(const QString& run_dir, bool ok);
  // The user asked to see an image (from an evaluation report) or a checkpoint in the Caption tab.
  void openImageRequested(const QString& path);
  void previewRequested(const QString& run_dir);

 private:
  QWidget* buildDatasetBox();
  void buildLayout();
  void startWorker();
  // The request's dataset part, from the dataset chosen.
  void connectRunList();
  void connectEvaluator();
  TrainRequest datasetRequest() const;
  void launch(const TrainRequest& request, const QString& log_line);
  void onStatus(const TrainStatus& status);
  void onExtraction(qint64 done, qint64 total, double images_per_s, double eta_s);
  void showThumbnail(QListWidgetItem* item, const QString& image);
  void onFinished(bool ok, const QString& error, const QString& run_dir);
  void onState(RunState state);
  void updatePreview();
  void describeDataset();

  QString dataset_;
  QString image_dir_;
  QString last_run_;
  int description_generation_ = 0;
  RunState state_ = RunState::Idle;
  QLabel* dataset_label_;
  QLabel* dataset_info_;
  TrainingForm* form_;
  RunControls* controls_;
  QProgressBar* progress_;
  QLabel* status_;
  TrainStatus last_status_;
  qint64 last_sample_step_ = -1;
  QHash<QString, QIcon> thumbnails_;  // validation images' thumbnails, by file
  QSet<QString> thumbnail_waiting_;   // being decoded  // the latest progress, for the line shown once the run has ended
  QListWidget* samples_;
  QPlainTextEdit* log_;
  LossPlot* plot_;
  RunList* runs_;
  Evaluator* evaluator_;
  QPushButton* preview_;
  QThread* thread_;
  TrainWorker* worker_;
};

}  // namespace captioner::ui
