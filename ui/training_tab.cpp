#include "ui/training_tab.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStandardPaths>
#include <QTabWidget>
#include <QThread>
#include <QVBoxLayout>

#include <cmath>
#include <filesystem>

#include "core/data/dataset.h"
#include "core/data/tokenizer.h"
#include "core/data/vocabulary.h"
#include "core/run/run_folder.h"
#include "core/run/run_summary.h"
#include "core/train/training_job.h"
#include "core/util/duration.h"
#include "core/vision/feature_cache.h"
#include "core/vision/grid_layer.h"
#include "ui/background.h"
#include "ui/caption_worker.h"
#include "ui/eval_report.h"
#include "ui/evaluator.h"
#include "ui/feature_cache_location.h"
#include "ui/loss_plot.h"
#include "ui/run_controls.h"
#include "ui/run_list.h"
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
  samples_->setObjectName(QStringLiteral("validationSamples"));
  samples_->setToolTip(tr("Greedy captions of fixed validation images at every validation, newest first"));
  samples_->setIconSize(QSize(48, 48));
  log_ = new QPlainTextEdit(this);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(2000);
  plot_ = new LossPlot(this);
  runs_ = new RunList(this);
  evaluator_ = new Evaluator(this);
  preview_ = new QPushButton(tr("Preview"), this);
  preview_->setObjectName(QStringLiteral("preview"));
  preview_->setToolTip(tr("Caption images in the Caption tab with this run's latest checkpoint while it trains on"));
  preview_->setEnabled(false);
  connect(preview_, &QPushButton::clicked, this, [this] { Q_EMIT previewRequested(last_run_); });
  buildLayout();
  connectRunList();
  connectEvaluator();
  connect(form_, &TrainingForm::layerChanged, this, &TrainingTab::describeDataset);
  connect(form_, &TrainingForm::minCountChanged, this, &TrainingTab::describeDataset);
  connect(controls_, &RunControls::startClicked, this, &TrainingTab::start);
  connect(controls_, &RunControls::pauseClicked, this, &TrainingTab::pause);
  connect(controls_, &RunControls::unpauseClicked, this, &TrainingTab::unpause);
  connect(controls_, &RunControls::stopClicked, this, &TrainingTab::stop);
  startWorker();
  onState(RunState::Idle);
  runs_->setRunsDir(runsDir());
}

void TrainingTab::connectRunList() {
  connect(runs_, &RunList::runShown, this, [this](const QString& dir, const QString& label, const History& history) {
    // The run being trained is already drawn live: a copy up to its last checkpoint would draw it
    // twice (and export its rows twice).
    if (isTraining() && QFileInfo(dir) == QFileInfo(last_run_)) {
      runs_->setChecked(dir, false);
      return;
    }
    plot_->setRun(dir, label, history);
    runs_->setRunColor(dir, plot_->seriesColor(dir));
  });
  connect(runs_, &RunList::runHidden, this, [this](const QString& dir) {
    plot_->removeRun(dir);
    runs_->setRunColor(dir, QColor());
  });
  connect(runs_, &RunList::errorOccurred, this, &TrainingTab::errorOccurred);
  connect(runs_, &RunList::evaluateRequested, this, &TrainingTab::evaluateRun);
  connect(runs_, &RunList::reportRequested, this, &TrainingTab::showReport);
  connect(runs_, &RunList::continueRequested, this, &TrainingTab::resumeRun);
}

void TrainingTab::connectEvaluator() {
  connect(evaluator_, &Evaluator::progress, this, [this](const QString& stage, qint64 done, qint64 total) {
    progress_->setRange(0, static_cast<int>(total));
    progress_->setValue(static_cast<int>(done));
    status_->setText(
        tr("Evaluating %1: %2 %3 / %4 images").arg(QFileInfo(evaluator_->runDir()).fileName(), stage).arg(done).arg(total));
  });
  connect(evaluator_, &Evaluator::message, log_, &QPlainTextEdit::appendPlainText);
  connect(evaluator_, &Evaluator::finished, this, [this](const QString& dir, EvalEnd end, const QString& error) {
    const bool ok = end == EvalEnd::Done;
    const QString outcome = ok                          ? tr("Evaluated %1").arg(dir)
                            : end == EvalEnd::Cancelled ? tr("Evaluation of %1 cancelled").arg(dir)
                                                        : tr("Evaluation of %1 failed: %2").arg(dir, error);
    log_->appendPlainText(outcome);
    status_->setText(ok ? tr("Evaluated %1: scores in the run list (Report… for details)").arg(QFileInfo(dir).fileName())
                        : outcome);
    if (end == EvalEnd::Failed) Q_EMIT errorOccurred(error);
    runs_->refresh();
    Q_EMIT evaluationFinished(dir, ok);
  });
}

TrainingTab::~TrainingTab() { stopAndWait(); }

QWidget* TrainingTab::buildDatasetBox() {
  dataset_label_ = new QLabel(tr("No dataset"), this);
  dataset_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  dataset_info_ = new QLabel(this);
  dataset_info_->setObjectName(QStringLiteral("datasetInfo"));
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

  auto* bottom = new QTabWidget(this);
  bottom->addTab(runs_, tr("Runs"));
  bottom->addTab(samples_, tr("Validation samples"));
  bottom->addTab(log_, tr("Log"));
  auto* right_split = new QSplitter(Qt::Vertical, this);
  right_split->addWidget(plot_);
  right_split->addWidget(bottom);
  right_split->setStretchFactor(0, 3);
  right_split->setStretchFactor(1, 2);
  right_split->setSizes({560, 260});  // the curves first; the lists below
  auto* right_widget = new QWidget(this);
  auto* right = new QVBoxLayout(right_widget);
  auto* status_row = new QHBoxLayout;
  status_row->addWidget(progress_, 1);
  status_row->addWidget(preview_);
  right->addLayout(status_row);
  right->addWidget(status_);
  right->addWidget(right_split, 1);

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(left_widget);
  split->addWidget(right_widget);
  split->setStretchFactor(1, 1);
  split->setSizes({380, 980});  // the form needs little width; the curves and runs take the rest
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
  connect(worker_, &TrainWorker::checkpointSaved, this, &TrainingTab::updatePreview, Qt::QueuedConnection);
  // The run being trained shows in the Runs list from its first checkpoint on, and its state with it.
  connect(worker_, &TrainWorker::checkpointSaved, runs_, &RunList::refresh, Qt::QueuedConnection);
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
  dataset_label_->setText(image_dir.isEmpty()
                              ? QDir::toNativeSeparators(path)
                              : tr("%1\nimages in %2").arg(QDir::toNativeSeparators(path), QDir::toNativeSeparators(image_dir)));
  describeDataset();
  onState(state_);
}

namespace {

// What the dataset box says about a dataset with the form's settings. Reads the dataset and may
// read the encoder's metadata (the "auto" layer), so it runs off the GUI thread.
DatasetDescription describe_dataset(const QString& path, const QString& image_dir, const QString& layer_choice, int min_count) {
  DatasetDescription d;
  try {
    const CaptionDataset ds = read_dataset(path.toStdString());
    const DatasetSplit split = split_images(ds, 0.1, 0.0, 42);
    std::vector<const TokenizedCaption*> captions;
    for (int64_t i : split.train)
      for (const auto& c : ds.images[static_cast<size_t>(i)].captions) captions.push_back(&c);
    const auto vocab = Vocabulary::build(captions, min_count);
    QString features;
    if (ds.format == DatasetFormat::Handout) {
      features = TrainingTab::tr("in the dataset");
    } else {
      const GridLayer layer = choose_grid_layer(layer_choice.toStdString(), ds, "", "");
      TrainRequest request;
      request.image_dir = image_dir.toStdString();
      if (!image_dir.isEmpty()) request.cache_parent = shared_feature_cache_parent(image_dir).toStdString();
      const DatasetImages where = training_images(request, ds, layer);
      const bool cached = !where.cache.empty() && !grid_features_path(cache_files(where.cache, false).pooled).empty();
      features = (cached ? TrainingTab::tr("%1, cached") : TrainingTab::tr("%1, extracted when training starts"))
                     .arg(QString::fromLatin1(grid_layer_name(layer)));
    }
    d.text = TrainingTab::tr(
                 "%1 images, %2 captions; vocabulary %3 words at min count %4; split %5 train / %6 val / "
                 "%7 test; features %8")
                 .arg(ds.images.size())
                 .arg(ds.caption_count())
                 .arg(vocab.size())
                 .arg(min_count)
                 .arg(split.train.size())
                 .arg(split.val.size())
                 .arg(split.test.size())
                 .arg(features);
  } catch (const std::exception& e) {
    d.error = QString::fromStdString(e.what());
    d.text = TrainingTab::tr("This dataset cannot be used: %1").arg(d.error);
  }
  return d;
}

}  // namespace

void TrainingTab::describeDataset() {
  if (dataset_.isEmpty()) {
    dataset_info_->setText(tr("Open a dataset (File ▸ Open dataset)."));
    return;
  }
  dataset_info_->setText(tr("Reading the dataset…"));
  const int generation = ++description_generation_;
  run_off_gui_thread(
      this,
      [=, path = dataset_, dir = image_dir_, layer = form_->layer(), min_count = form_->minCount()] {
        return describe_dataset(path, dir, layer, min_count);
      },
      [this, generation](const DatasetDescription& d) {
        if (generation != description_generation_) return;  // the dataset or settings changed since
        dataset_info_->setText(d.text);
        if (!d.error.isEmpty()) Q_EMIT errorOccurred(d.error);
        Q_EMIT datasetDescribed(d.error.isEmpty());
      });
}

void TrainingTab::start() {
  if (dataset_.isEmpty() || isTraining()) return;
  TrainRequest request = datasetRequest();
  request.layer = form_->layer().toStdString();
  request.layer_chosen = request.layer != "auto";
  const QString runs = runsDir();
  const QString run_dir = runs + QStringLiteral("/") + QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  request.run_dir = run_dir.toStdString();
  QDir().mkpath(runs);
  form_->fill(request.config);
  launch(request, tr("Run folder: %1").arg(run_dir));
}

void TrainingTab::resumeRun(const QString& run_dir) {
  if (dataset_.isEmpty() || isTraining()) return;
  if (!RunFolder(run_dir.toStdString()).has_checkpoint()) {
    Q_EMIT errorOccurred(tr("%1: this folder holds no saved run to resume").arg(run_dir));
    return;
  }
  TrainRequest request = datasetRequest();
  request.run_dir = run_dir.toStdString();
  request.resume = true;
  // A stopped run goes on to its planned steps; a finished one trains as many more steps as the
  // form says.
  const RunSummary* run = runs_->summary(run_dir);
  TrainConfig shown;
  form_->fill(shown);
  request.resume_steps = run && run->step >= run->config.steps ? run->config.steps + shown.steps : 0;
  launch(request, tr("Resuming %1").arg(run_dir));
}

QString TrainingTab::runsDir() const {
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/runs");
}

TrainRequest TrainingTab::datasetRequest() const {
  TrainRequest request;
  request.dataset = dataset_.toStdString();
  request.image_dir = image_dir_.toStdString();
  if (!image_dir_.isEmpty()) request.cache_parent = shared_feature_cache_parent(image_dir_).toStdString();
  request.model_chosen = true;  // the form always names the model
  return request;
}

void TrainingTab::launch(const TrainRequest& request, const QString& log_line) {
  const QString run_dir = QString::fromStdString(request.run_dir);
  // Saved runs checked in the list stay in the plot beside the new one.
  plot_->clear(tr("%1 (this run)").arg(QFileInfo(run_dir).fileName()));
  runs_->setChecked(run_dir, false);  // a continued run is drawn live, not twice
  runs_->setBusyRun(run_dir);
  samples_->clear();
  log_->appendPlainText(log_line);
  last_run_ = run_dir;
  onState(RunState::Preparing);
  Q_EMIT requestRun(request);
}

void TrainingTab::evaluateRun(const QString& run_dir) {
  if (run_dir.isEmpty()) return;
  if (evaluator_->isRunning()) {
    Q_EMIT errorOccurred(tr("An evaluation is running already (%1)").arg(evaluator_->runDir()));
    return;
  }
  const RunSummary* run = runs_->summary(run_dir);
  EvalJob job;
  job.run_dir = run_dir;
  job.dataset = run && !run->dataset.empty() ? QString::fromStdString(run->dataset) : dataset_;
  if (run_dir == last_run_ || QFileInfo(job.dataset) == QFileInfo(dataset_)) job.image_dir = image_dir_;
  log_->appendPlainText(tr("Evaluating %1 on %2").arg(run_dir, job.dataset));
  status_->setText(tr("Evaluating %1…").arg(QFileInfo(run_dir).fileName()));
  evaluator_->start(job);
}

void TrainingTab::showReport(const QString& run_dir) {
  auto* report = new EvalReport(run_dir, this);
  if (!report->isValid()) {
    Q_EMIT errorOccurred(report->error());
    delete report;
    return;
  }
  report->setAttribute(Qt::WA_DeleteOnClose);
  connect(report, &EvalReport::openImage, this, &TrainingTab::openImageRequested);
  report->show();
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
  if (!s.samples.isEmpty() && s.samples_step != last_sample_step_) {
    // Every validation's captions stay, newest first, under the step they were made at.
    last_sample_step_ = s.samples_step;
    int row = 0;
    for (const TrainSample& sample : s.samples) {
      auto* item =
          new QListWidgetItem(tr("step %1 · %2: %3\nreference: %4")
                                  .arg(s.samples_step)
                                  .arg(sample.key, QString::fromStdString(readable_caption(sample.caption.toStdString())),
                                       QString::fromStdString(readable_caption(sample.reference.toStdString()))));
      item->setData(Qt::UserRole, sample.image);
      samples_->insertItem(row++, item);
      showThumbnail(item, sample.image);
    }
  }
}

void TrainingTab::showThumbnail(QListWidgetItem* item, const QString& image) {
  if (image.isEmpty()) return;
  if (const auto it = thumbnails_.constFind(image); it != thumbnails_.constEnd()) {
    item->setIcon(*it);
    return;
  }
  // Decoded off the GUI thread once per image; every item showing it gets it when it comes.
  if (thumbnail_waiting_.contains(image)) return;
  thumbnail_waiting_.insert(image);
  run_off_gui_thread(
      this,
      [image] {
        const QImage picture = load_display_image(image);
        return picture.isNull() ? QImage() : picture.scaled(48, 48, Qt::KeepAspectRatio, Qt::SmoothTransformation);
      },
      [this, image](const QImage& small) {
        thumbnail_waiting_.remove(image);
        if (small.isNull()) return;
        const QIcon icon(QPixmap::fromImage(small));
        thumbnails_.insert(image, icon);
        for (int i = 0; i < samples_->count(); ++i)
          if (samples_->item(i)->data(Qt::UserRole).toString() == image) samples_->item(i)->setIcon(icon);
      });
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
  runs_->setBusyRun(QString());
  runs_->refresh();
  describeDataset();
  Q_EMIT trainingFinished(run_dir, ok);
  // A run that trained to its end is evaluated at once; a stopped one on request.
  if (ok && state_ == RunState::Finished) evaluateRun(run_dir);
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
      status_->setText(
          tr("%1 at step %2 / %3   best val %4")
              .arg(how)
              .arg(last_status_.step)
              .arg(last_status_.total)
              .arg(std::isnan(last_status_.best_val) ? QStringLiteral("–") : QString::number(last_status_.best_val, 'f', 4)));
  }
  controls_->setState(state, !dataset_.isEmpty());
  updatePreview();
  form_->setLocked(isTraining());
  Q_EMIT stateChanged(state);
}

void TrainingTab::updatePreview() {
  // Only a checkpoint can be previewed: none exists before the run's first save.
  const bool running = state_ == RunState::Running || state_ == RunState::Paused;
  preview_->setEnabled(running && !last_run_.isEmpty() && RunFolder(last_run_.toStdString()).has_checkpoint());
}

void TrainingTab::saveSettings() const {
  QSettings s;
  s.beginGroup(QStringLiteral("training"));
  s.setValue(QStringLiteral("dataset"), dataset_);
  s.setValue(QStringLiteral("image_dir"), image_dir_);
  s.setValue(QStringLiteral("smoothing"), plot_->smoothing());
  s.setValue(QStringLiteral("log_y"), plot_->logY());
  s.setValue(QStringLiteral("x_axis"), static_cast<int>(plot_->xAxis()));
  save_settings(s, form_->settings());
  s.endGroup();
}

void TrainingTab::loadSettings() {
  QSettings s;
  s.beginGroup(QStringLiteral("training"));
  load_settings(s, form_->settings());
  plot_->setSmoothing(s.value(QStringLiteral("smoothing"), plot_->smoothing()).toDouble());
  plot_->setLogY(s.value(QStringLiteral("log_y"), plot_->logY()).toBool());
  const int x_axis = s.value(QStringLiteral("x_axis"), static_cast<int>(plot_->xAxis())).toInt();
  if (x_axis >= 0 && x_axis <= static_cast<int>(LossPlot::XAxis::WallClock))
    plot_->setXAxis(static_cast<LossPlot::XAxis>(x_axis));
  const QString dataset = s.value(QStringLiteral("dataset")).toString();
  const QString image_dir = s.value(QStringLiteral("image_dir")).toString();
  s.endGroup();
  if (!dataset.isEmpty() && QFileInfo::exists(dataset)) setDataset(dataset, image_dir);
}

}  // namespace captioner::ui
