#pragma once
// Start / Pause / Resume / Stop, enabled as the run's state allows.
#include <QWidget>

#include "ui/train_worker.h"

class QPushButton;

namespace captioner::ui {

class RunControls : public QWidget {
  Q_OBJECT
 public:
  explicit RunControls(QWidget* parent = nullptr);
  void setState(RunState state, bool has_dataset);

 Q_SIGNALS:
  void startClicked();
  void pauseClicked();
  void unpauseClicked();
  void stopClicked();

 private:
  QPushButton* start_;
  QPushButton* pause_;
  QPushButton* unpause_;
  QPushButton* stop_;
};

}  // namespace captioner::ui
