#pragma once
// A run's evaluation report (its evaluation.json): the scores, and the worst-captioned images
// with their caption and a reference; double-clicking one opens it in the Caption tab.
// Thumbnails are decoded off the GUI thread.
#include <QDialog>
#include <QString>

class QListWidget;

namespace captioner::ui {

class EvalReport : public QDialog {
  Q_OBJECT
 public:
  // Reads RUN_DIR/evaluation.json; isValid() is false (and error() says why) when it cannot.
  EvalReport(const QString& run_dir, QWidget* parent = nullptr);
  bool isValid() const { return error_.isEmpty(); }
  QString error() const { return error_; }
  QListWidget* worstImages() const { return worst_; }
  QString scoresText() const { return scores_text_; }

 Q_SIGNALS:
  void openImage(const QString& path);

 private:
  QString error_;
  QString scores_text_;
  QListWidget* worst_ = nullptr;
};

}  // namespace captioner::ui
