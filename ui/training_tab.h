#pragma once
// The Training tab: dataset, model and hyper-parameters, Start / Pause / Resume / Stop, live
// loss curves, status line and the current captions of a few fixed validation images.
#include <QString>
#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QThread;

namespace captioner::ui {

class LossPlot;
class TrainWorker;
struct TrainStatus;
struct TrainRequest;

class TrainingTab : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingTab(QWidget* parent = nullptr);
  ~TrainingTab() override;

  // image_dir: the folder of a COCO / Karpathy file's images when they are not beside it.
  void setDataset(const QString& path, const QString& image_dir = QString());
  QString dataset() const { return dataset_; }
  bool isTraining() const;
  // Asks the trainer to stop (it saves a checkpoint) and waits for the thread.
  void stopAndWait();
  LossPlot* plot() const { return plot_; }
  QString state() const { return state_; }
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

 Q_SIGNALS:
  void trainingFinished(const QString& run_dir, bool ok);
  void stateChanged(const QString& state);
  void errorOccurred(const QString& text);
  void requestRun(const captioner::ui::TrainRequest& request);

 private:
  void onStatus(const TrainStatus& status);
  void onState(const QString& state);
  void updateButtons();
  void describeDataset();

  QString dataset_;
  QString image_dir_;
  QString last_run_;
  QString state_ = QStringLiteral("idle");
  QLabel* dataset_label_;
  QLabel* dataset_info_;
  QComboBox* kind_;
  QComboBox* layer_;
  QSpinBox* hidden_;
  QSpinBox* embed_;
  QSpinBox* layers_;
  QDoubleSpinBox* dropout_;
  QSpinBox* batch_;
  QDoubleSpinBox* lr_;
  QSpinBox* max_len_;
  QSpinBox* min_count_;
  QSpinBox* val_every_;
  QSpinBox* steps_;
  QSpinBox* threads_;
  QComboBox* device_;
  QPushButton* resume_run_;
  QPushButton* start_;
  QPushButton* pause_;
  QPushButton* unpause_;
  QPushButton* stop_;
  QProgressBar* progress_;
  QLabel* status_;
  QListWidget* samples_;
  QPlainTextEdit* log_;
  LossPlot* plot_;
  QThread* thread_;
  TrainWorker* worker_;
};

}  // namespace captioner::ui
