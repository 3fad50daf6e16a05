#pragma once
// Evaluation of a saved run from the desktop app: the same code as `captioner eval`
// (evaluate_run) on a thread of its own, with progress and cancel through queued signals. The
// result is kept beside the run as evaluation.json: the scores, and the worst-captioned images
// (file, caption, a reference) for the report.
#include <QObject>
#include <QPointer>
#include <QString>

#include <atomic>
#include <memory>

#include <QThread>

namespace captioner::ui {

struct EvalJob {
  QString run_dir;
  QString dataset;    // the run's dataset (file or folder)
  QString image_dir;  // a COCO / Karpathy file's images when they are not beside it
};

// How an evaluation ended: a cancel is its own outcome, not an error to recognise by its text.
enum class EvalEnd { Done, Cancelled, Failed };

class Evaluator : public QObject {
  Q_OBJECT
 public:
  explicit Evaluator(QObject* parent = nullptr);
  ~Evaluator() override;  // cancels a running evaluation and waits for it
  bool isRunning() const;
  QString runDir() const { return job_.run_dir; }
  // Starts evaluating; false when one is running already.
  bool start(const EvalJob& job);
  void cancel();

  static QString evaluationPath(const QString& run_dir);

 Q_SIGNALS:
  void progress(const QString& stage, qint64 done, qint64 total);
  void message(const QString& text);
  void finished(const QString& run_dir, captioner::ui::EvalEnd end, const QString& error);  // error: Failed only

 private:
  EvalJob job_;
  QPointer<QThread> thread_;                   // the evaluation's, while it runs
  std::shared_ptr<std::atomic<bool>> cancel_;  // while an evaluation runs
};

}  // namespace captioner::ui
