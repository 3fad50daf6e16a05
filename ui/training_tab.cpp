#include "ui/training_tab.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QGroupBox>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStandardPaths>
#include <QThread>
#include <QVBoxLayout>

#include <cmath>
#include <filesystem>

#include "core/data/dataset.h"
#include "core/data/vocabulary.h"
#include "core/util/duration.h"
#include "core/vision/feature_cache.h"
#include "core/vision/grid_layer.h"
#include "ui/loss_plot.h"
#include "ui/run_controls.h"
#include "ui/training_form.h"

namespace captioner::ui {

TrainingTab::TrainingTab(QWidget* parent) : QWidget(parent) {
  qRegisterMetaType<RunState>();
  qRegisterMetaType<TrainPoint>();
  qRegisterMetaType<QVector<TrainPoint>>();
  qRegisterMetaType<TrainStatus>();
  qRegisterMetaType<TrainRequest>();
  form_ = new TrainingForm(this);
  controls_ = new RunControls(this);
  progress_ = new QProgressBar(this);
  status_ = new QLabel(tr("Ready"), this);
  status_->setObjectName(QStringLiteral("runStatus"));
  samples_ = new QListWidget(this);
  samples_->setToolTip(tr("Greedy captions of fixed validation images, updated at every validation"));
  log_ = new QPlainTextEdit(this);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(2000);
  plot_ = new LossPlot(this);
  buildLayout();
  connect(form_, &TrainingForm::layerChanged, this, &TrainingTab::describeDataset);
  connect(form_, &TrainingForm::minCountChanged, this, &TrainingTab::describeDataset);
  connect(controls_, &RunControls::startClicked, this, &TrainingTab::start);
  connect(controls_, &RunControls::pauseClicked, this, &TrainingTab::pause);
  connect(controls_, &RunControls::unpauseClicked, this, &TrainingTab::unpause);
  connect(controls_, &RunControls::stopClicked, this, &TrainingTab::stop);
  connect(controls_, &RunControls::resumeRunChosen, this, &TrainingTab::resumeRun);
  startWorker();
  onState(RunState::Idle);
}

TrainingTab::~TrainingTab() { stopAndWait(); }

QWidget* TrainingTab::buildDatasetBox() {
  dataset_label_ = new QLabel(tr("No dataset"), this);
  dataset_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  dataset_info_ = new QLabel(this);
  dataset_info_->setWordWrap(true);
  auto* box = new QGroupBox(tr("Dataset"), this);
  auto* layout = new QVBoxLayout(box);
  layout->addWidget(dataset_label_);
  layout->addWidget(dataset_info_);
  return box;
}

void TrainingTab::buildLayout() {
  auto* left_widget = new QWidget(this);
  auto* left = new QVBoxLayout(left_widget);
  left->addWidget(buildDatasetBox());
  left->addWidget(form_);
  left->addWidget(controls_);
  left->addStretch(1);

  auto* bottom = new QSplitter(Qt::Horizontal, this);
  bottom->addWidget(samples_);
  bottom->addWidget(log_);
  auto* right_split = new QSplitter(Qt::Vertical, this);
  right_split->addWidget(plot_);
  right_split->addWidget(bottom);
  right_split->setStretchFactor(0, 3);
  right_split->setStretchFactor(1, 1);
  auto* right_widget = new QWidget(this);
  auto* right = new QVBoxLayout(right_widget);
  right->addWidget(progress_);
  right->addWidget(status_);
  right->addWidget(right_split, 1);

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(left_widget);
  split->addWidget(right_widget);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split);
}

void TrainingTab::startWorker() {
  thread_ = new QThread(this);
  thread_->setObjectName(QStringLiteral("training"));
  worker_ = new TrainWorker;
  worker_->moveToThread(thread_);
  connect(thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(this, &TrainingTab::requestRun, worker_, &TrainWorker::run, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::points, plot_, &LossPlot::append, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::status, this, &TrainingTab::onStatus, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::stateChanged, this, &TrainingTab::onState, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::extraction, this, &TrainingTab::onExtraction, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::message, log_, &QPlainTextEdit::appendPlainText, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::finished, this, &TrainingTab::onFinished, Qt::QueuedConnection);
  thread_->start();
}

void TrainingTab::stopAndWait() {
  if (!thread_->isRunning()) return;
  worker_->stop();
  thread_->quit();
  thread_->wait();
}

void TrainingTab::setDataset(const QString& path, const QString& image_dir) {
  dataset_ = path;
  image_dir_ = image_dir;
  dataset_label_->setText(image_dir.isEmpty() ? QDir::toNativeSeparators(path)
                                              : tr("%1\nimages in %2").arg(QDir::toNativeSeparators(path), QDir::toNativeSeparators(image_dir)));
  describeDataset();
  onState(state_);
}

void TrainingTab::describeDataset() {
  if (dataset_.isEmpty()) {
    dataset_info_->setText(tr("Open a dataset (File ▸ Open dataset)."));
    return;
  }
  try {
    const CaptionDataset ds = read_dataset(dataset_.toStdString());
    const DatasetSplit split = split_images(ds, 0.1, 0.0, 42);
    std::vector<const TokenizedCaption*> captions;
    for (int64_t i : split.train)
      for (const auto& c : ds.images[static_cast<size_t>(i)].captions) captions.push_back(&c);
    const auto vocab = Vocabulary::build(captions, form_->minCount());
    const GridLayer layer = parse_grid_layer(form_->layer().toStdString());
    const bool cached = ds.format == DatasetFormat::Handout ||
                        (image_dir_.isEmpty() && std::filesystem::exists(ds.image_root + "/" + feature_cache_name(layer) + "/grid.npy"));
    dataset_info_->setText(tr("%1 images, %2 captions; vocabulary %3 words at min count %4; split %5 train / %6 val / "
                              "%7 test; features %8")
                               .arg(ds.images.size())
                               .arg(ds.caption_count())
                               .arg(vocab.size())
                               .arg(form_->minCount())
                               .arg(split.train.size())
                               .arg(split.val.size())
                               .arg(split.test.size())
                               .arg(cached ? tr("cached") : tr("not extracted yet (done when training starts)")));
  } catch (const std::exception& e) {
    dataset_info_->setText(tr("This dataset cannot be used: %1").arg(QString::fromStdString(e.what())));
    Q_EMIT errorOccurred(QString::fromStdString(e.what()));
  }
}

void TrainingTab::start() {
  if (dataset_.isEmpty() || isTraining()) return;
  TrainRequest request;
  request.dataset = dataset_;
  request.image_dir = image_dir_;
  request.layer = form_->layer();
  const QString runs = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/runs");
  request.run_dir = runs + QStringLiteral("/") + QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  QDir().mkpath(runs);
  form_->fill(request.config);
  launch(request, tr("Run folder: %1").arg(request.run_dir));
}

void TrainingTab::resumeRun(const QString& run_dir) {
  if (dataset_.isEmpty() || isTraining()) return;
  if (!QFileInfo::exists(run_dir + QStringLiteral("/checkpoint.pt"))) {
    Q_EMIT errorOccurred(tr("%1: no checkpoint.pt in this folder, so there is no run to resume").arg(run_dir));
    return;
  }
  TrainRequest request;
  request.dataset = dataset_;
  request.image_dir = image_dir_;
  request.run_dir = run_dir;
  request.resume = true;
  request.config.steps = 0;  // keep the run's own number of steps
  launch(request, tr("Resuming %1").arg(run_dir));
}

void TrainingTab::launch(const TrainRequest& request, const QString& log_line) {
  plot_->clear();
  samples_->clear();
  log_->appendPlainText(log_line);
  last_run_ = request.run_dir;
  onState(RunState::Preparing);
  Q_EMIT requestRun(request);
}

void TrainingTab::pause() { worker_->pause(); }
void TrainingTab::unpause() { worker_->unpause(); }
void TrainingTab::stop() { worker_->stop(); }

void TrainingTab::onStatus(const TrainStatus& s) {
  last_status_ = s;
  progress_->setRange(0, static_cast<int>(s.total));
  progress_->setValue(static_cast<int>(s.step));
  status_->setText(tr("step %1 / %2   %3 captions/s   ETA %4   lr %5   best val %6")
                       .arg(s.step)
                       .arg(s.total)
                       .arg(s.captions_per_s, 0, 'f', 0)
                       .arg(QString::fromStdString(format_duration(s.eta_s)))
                       .arg(s.lr, 0, 'g', 3)
                       .arg(std::isnan(s.best_val) ? QStringLiteral("–") : QString::number(s.best_val, 'f', 4)));
  if (!s.samples.isEmpty()) {
    samples_->clear();
    samples_->addItems(s.samples);
  }
}

void TrainingTab::onExtraction(qint64 done, qint64 total, double images_per_s, double eta_s) {
  progress_->setRange(0, static_cast<int>(total));
  progress_->setValue(static_cast<int>(done));
  status_->setText(tr("Extracting image features (once per dataset): %1 / %2 images, %3 images/s, ETA %4   (Stop cancels)")
                       .arg(done)
                       .arg(total)
                       .arg(images_per_s, 0, 'f', 1)
                       .arg(QString::fromStdString(format_duration(eta_s))));
}

void TrainingTab::onFinished(bool ok, const QString& error, const QString& run_dir) {
  if (!ok) {
    log_->appendPlainText(tr("Training failed: %1").arg(error));
    Q_EMIT errorOccurred(error);
  }
  last_run_ = run_dir;
  if (isTraining()) onState(ok ? RunState::Stopped : RunState::Failed);
  describeDataset();
  Q_EMIT trainingFinished(run_dir, ok);
}

void TrainingTab::onState(RunState state) {
  state_ = state;
  if (state == RunState::Preparing) {
    last_status_ = TrainStatus();
    status_->setText(tr("Preparing data (features are extracted once)…"));
  }
  if (state == RunState::Paused) status_->setText(status_->text() + tr("   (paused)"));
  // A run that no longer runs has no rate and no ETA: where it ended and its best validation.
  if (state == RunState::Stopped || state == RunState::Finished || state == RunState::Failed) {
    const QString how = state == RunState::Stopped ? tr("Stopped") : state == RunState::Finished ? tr("Finished") : tr("Failed");
    if (last_status_.total == 0)
      status_->setText(how + tr(" before the first step"));
    else
      status_->setText(tr("%1 at step %2 / %3   best val %4")
                           .arg(how)
                           .arg(last_status_.step)
                           .arg(last_status_.total)
                           .arg(std::isnan(last_status_.best_val) ? QStringLiteral("–") : QString::number(last_status_.best_val, 'f', 4)));
  }
  controls_->setState(state, !dataset_.isEmpty());
  form_->setLocked(isTraining());
  Q_EMIT stateChanged(state);
}

void TrainingTab::saveSettings() const {
  QSettings s;
  s.beginGroup(QStringLiteral("training"));
  s.setValue(QStringLiteral("dataset"), dataset_);
  s.setValue(QStringLiteral("image_dir"), image_dir_);
  s.setValue(QStringLiteral("smoothing"), plot_->smoothing());
  save_settings(s, form_->settings());
  s.endGroup();
}

void TrainingTab::loadSettings() {
  QSettings s;
  s.beginGroup(QStringLiteral("training"));
  load_settings(s, form_->settings());
  plot_->setSmoothing(s.value(QStringLiteral("smoothing"), plot_->smoothing()).toDouble());
  const QString dataset = s.value(QStringLiteral("dataset")).toString();
  const QString image_dir = s.value(QStringLiteral("image_dir")).toString();
  s.endGroup();
  if (!dataset.isEmpty() && QFileInfo::exists(dataset)) setDataset(dataset, image_dir);
}

}  // namespace captioner::ui
