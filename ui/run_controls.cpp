#include "ui/run_controls.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

namespace captioner::ui {

RunControls::RunControls(QWidget* parent) : QWidget(parent) {
  start_ = new QPushButton(tr("&Train"), this);
  start_->setToolTip(tr("Start a new run on this dataset"));
  pause_ = new QPushButton(tr("&Pause"), this);
  unpause_ = new QPushButton(tr("&Resume"), this);
  stop_ = new QPushButton(tr("&Stop"), this);
  stop_->setToolTip(tr("Stop after the current step; the run is saved and can be resumed"));
  resume_run_ = new QPushButton(tr("Resume a saved run…"), this);
  resume_run_->setToolTip(tr("Continue a run folder where it stopped, on this dataset"));
  connect(start_, &QPushButton::clicked, this, &RunControls::startClicked);
  connect(pause_, &QPushButton::clicked, this, &RunControls::pauseClicked);
  connect(unpause_, &QPushButton::clicked, this, &RunControls::unpauseClicked);
  connect(stop_, &QPushButton::clicked, this, &RunControls::stopClicked);
  connect(resume_run_, &QPushButton::clicked, this, [this] {
    QSettings s;
    const QString dir =
        QFileDialog::getExistingDirectory(this, tr("Run folder to resume"), s.value(QStringLiteral("folders/runs")).toString());
    if (dir.isEmpty()) return;
    s.setValue(QStringLiteral("folders/runs"), QFileInfo(dir).absolutePath());
    Q_EMIT resumeRunChosen(dir);
  });
  auto* buttons = new QHBoxLayout;
  for (auto* b : {start_, pause_, unpause_, stop_}) buttons->addWidget(b);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(buttons);
  layout->addWidget(resume_run_);
  setState(RunState::Idle, false);
}

void RunControls::setState(RunState state, bool has_dataset) {
  const bool busy = is_active(state);
  start_->setEnabled(!busy && has_dataset);
  resume_run_->setEnabled(!busy && has_dataset);
  pause_->setEnabled(state == RunState::Running);
  unpause_->setEnabled(state == RunState::Paused);
  stop_->setEnabled(busy);
}

}  // namespace captioner::ui
