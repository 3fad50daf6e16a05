#include "ui/run_controls.h"

#include <QHBoxLayout>
#include <QPushButton>
#include <QVBoxLayout>

namespace captioner::ui {

RunControls::RunControls(QWidget* parent) : QWidget(parent) {
  start_ = new QPushButton(tr("&Train"), this);
  start_->setToolTip(tr("Start a new run on this dataset"));
  pause_ = new QPushButton(tr("&Pause"), this);
  unpause_ = new QPushButton(tr("&Resume"), this);
  stop_ = new QPushButton(tr("&Stop"), this);
  stop_->setToolTip(tr("Stop after the current step; the run is saved and can be resumed"));
  connect(start_, &QPushButton::clicked, this, &RunControls::startClicked);
  connect(pause_, &QPushButton::clicked, this, &RunControls::pauseClicked);
  connect(unpause_, &QPushButton::clicked, this, &RunControls::unpauseClicked);
  connect(stop_, &QPushButton::clicked, this, &RunControls::stopClicked);
  auto* buttons = new QHBoxLayout;
  for (auto* b : {start_, pause_, unpause_, stop_}) buttons->addWidget(b);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(buttons);
  setState(RunState::Idle, false);
}

void RunControls::setState(RunState state, bool has_dataset) {
  const bool busy = is_active(state);
  start_->setEnabled(!busy && has_dataset);
  pause_->setEnabled(state == RunState::Running);
  unpause_->setEnabled(state == RunState::Paused);
  stop_->setEnabled(busy);
}

}  // namespace captioner::ui
