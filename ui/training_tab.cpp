// Core headers (LibTorch) before Qt headers.
#include "core/data/dataset.h"
#include "core/data/vocabulary.h"
#include "core/util/duration.h"
#include "core/util/runtime.h"
#include "core/vision/feature_cache.h"

#include "ui/training_tab.h"

#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QThread>
#include <QVBoxLayout>

#include <cmath>
#include <filesystem>

#include "ui/loss_plot.h"
#include "ui/train_worker.h"

namespace captioner::ui {

namespace {

QSpinBox* spin(int lo, int hi, int value, const QString& tip, QWidget* parent) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  s->setValue(value);
  s->setToolTip(tip);
  return s;
}

}  // namespace

TrainingTab::TrainingTab(QWidget* parent) : QWidget(parent) {
  qRegisterMetaType<TrainPoint>();
  qRegisterMetaType<QVector<TrainPoint>>();
  qRegisterMetaType<TrainStatus>();
  qRegisterMetaType<TrainRequest>();

  const TrainConfig defaults;
  dataset_label_ = new QLabel(tr("No dataset"), this);
  dataset_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  dataset_info_ = new QLabel(this);
  dataset_info_->setWordWrap(true);

  kind_ = new QComboBox(this);
  kind_->addItem(tr("Attention (looks at the 8×8 grid)"), QStringLiteral("attention"));
  kind_->addItem(tr("LSTM (image vector only)"), QStringLiteral("lstm"));
  kind_->setToolTip(tr("The attention model shows where it looks for every word"));
  layer_ = new QComboBox(this);
  layer_->addItem(tr("mixed10 (standard 8×8×2048 grid)"), QStringLiteral("mixed10"));
  layer_->addItem(tr("mixed5 (8×8×768, sees colour)"), QStringLiteral("mixed5"));
  layer_->setToolTip(tr("Inception-v3 layer whose 8×8 grid the model reads. The bundled weights' layers after mixed5 "
                        "were fine-tuned away from colour: on Shapes, mixed5 names colours far more reliably"));
  connect(layer_, &QComboBox::currentIndexChanged, this, [this] { describeDataset(); });
  hidden_ = spin(8, 4096, static_cast<int>(defaults.model.hidden), tr("LSTM hidden size"), this);
  embed_ = spin(8, 4096, static_cast<int>(defaults.model.embed), tr("Word embedding size"), this);
  layers_ = spin(1, 8, 1, tr("LSTM layers (the attention model has one)"), this);
  connect(kind_, &QComboBox::currentIndexChanged, this, [this] { updateButtons(); });
  dropout_ = new QDoubleSpinBox(this);
  dropout_->setRange(0, 0.9);
  dropout_->setSingleStep(0.05);
  dropout_->setValue(0.2);
  dropout_->setToolTip(tr("Dropout on embeddings and hidden states"));
  batch_ = spin(1, 4096, 64, tr("Distinct images per batch, one random caption each"), this);
  lr_ = new QDoubleSpinBox(this);
  lr_->setDecimals(5);
  lr_->setRange(1e-5, 1.0);
  lr_->setSingleStep(1e-4);
  lr_->setValue(2e-3);
  lr_->setToolTip(tr("Adam learning rate"));
  max_len_ = spin(3, 200, 22, tr("Tokens per caption, START and END included"), this);
  min_count_ = spin(1, 1000, static_cast<int>(defaults.min_count), tr("Vocabulary: words seen at least this often"), this);
  val_every_ = spin(1, 100000, 50, tr("Steps between validations"), this);
  steps_ = spin(1, 10000000, 1500, tr("Training steps"), this);
  threads_ = spin(0, 256, 0, tr("CPU threads (0 = all cores)"), this);
  device_ = new QComboBox(this);
  device_->addItem(tr("CPU"), QStringLiteral("cpu"));
  device_->addItem(tr("CUDA GPU"), QStringLiteral("cuda"));
  const bool cuda = cuda_available();
  if (!cuda) qobject_cast<QStandardItemModel*>(device_->model())->item(1)->setEnabled(false);
  device_->setCurrentIndex(cuda ? 1 : 0);
  device_->setToolTip(cuda ? tr("Where training runs") : tr("This build of LibTorch has no CUDA, or no GPU was found"));

  auto* form = new QFormLayout;
  form->addRow(tr("Model"), kind_);
  form->addRow(tr("Encoder layer"), layer_);
  form->addRow(tr("Hidden size"), hidden_);
  form->addRow(tr("Embedding size"), embed_);
  form->addRow(tr("Layers"), layers_);
  form->addRow(tr("Dropout"), dropout_);
  form->addRow(tr("Batch size"), batch_);
  form->addRow(tr("Learning rate"), lr_);
  form->addRow(tr("Max length"), max_len_);
  form->addRow(tr("Min word count"), min_count_);
  form->addRow(tr("Validate every"), val_every_);
  form->addRow(tr("Steps"), steps_);
  form->addRow(tr("Device"), device_);
  form->addRow(tr("CPU threads"), threads_);

  start_ = new QPushButton(tr("&Train"), this);
  start_->setToolTip(tr("Start a new run on this dataset"));
  pause_ = new QPushButton(tr("&Pause"), this);
  unpause_ = new QPushButton(tr("&Resume"), this);
  stop_ = new QPushButton(tr("&Stop"), this);
  stop_->setToolTip(tr("Stop after the current step; the run is saved and can be resumed"));
  connect(start_, &QPushButton::clicked, this, &TrainingTab::start);
  connect(pause_, &QPushButton::clicked, this, &TrainingTab::pause);
  connect(unpause_, &QPushButton::clicked, this, &TrainingTab::unpause);
  connect(stop_, &QPushButton::clicked, this, &TrainingTab::stop);
  resume_run_ = new QPushButton(tr("Resume a saved run…"), this);
  resume_run_->setToolTip(tr("Continue a run folder where it stopped, on this dataset"));
  connect(resume_run_, &QPushButton::clicked, this, [this] {
    QSettings s;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Run folder to resume"),
                                                          s.value(QStringLiteral("folders/runs")).toString());
    if (dir.isEmpty()) return;
    s.setValue(QStringLiteral("folders/runs"), QFileInfo(dir).absolutePath());
    resumeRun(dir);
  });
  auto* buttons = new QHBoxLayout;
  for (auto* b : {start_, pause_, unpause_, stop_}) buttons->addWidget(b);

  progress_ = new QProgressBar(this);
  status_ = new QLabel(tr("Ready"), this);
  samples_ = new QListWidget(this);
  samples_->setToolTip(tr("Greedy captions of fixed validation images, updated at every validation"));
  log_ = new QPlainTextEdit(this);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(2000);
  plot_ = new LossPlot(this);

  auto* left = new QVBoxLayout;
  auto* data_box = new QGroupBox(tr("Dataset"), this);
  auto* data_layout = new QVBoxLayout(data_box);
  data_layout->addWidget(dataset_label_);
  data_layout->addWidget(dataset_info_);
  left->addWidget(data_box);
  auto* model_box = new QGroupBox(tr("Model and training"), this);
  model_box->setLayout(form);
  left->addWidget(model_box);
  left->addLayout(buttons);
  left->addWidget(resume_run_);
  left->addStretch(1);
  auto* left_widget = new QWidget(this);
  left_widget->setLayout(left);

  auto* right_split = new QSplitter(Qt::Vertical, this);
  right_split->addWidget(plot_);
  auto* bottom = new QSplitter(Qt::Horizontal, this);
  bottom->addWidget(samples_);
  bottom->addWidget(log_);
  right_split->addWidget(bottom);
  right_split->setStretchFactor(0, 3);
  right_split->setStretchFactor(1, 1);
  auto* right = new QVBoxLayout;
  right->addWidget(progress_);
  right->addWidget(status_);
  right->addWidget(right_split, 1);
  auto* right_widget = new QWidget(this);
  right_widget->setLayout(right);

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(left_widget);
  split->addWidget(right_widget);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split);

  thread_ = new QThread(this);
  thread_->setObjectName(QStringLiteral("training"));
  worker_ = new TrainWorker;
  worker_->moveToThread(thread_);
  connect(thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(this, &TrainingTab::requestRun, worker_, &TrainWorker::run, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::points, plot_, &LossPlot::append, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::status, this, &TrainingTab::onStatus, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::stateChanged, this, &TrainingTab::onState, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::extraction, this, [this](qint64 done, qint64 total, double rate, double eta) {
    progress_->setRange(0, static_cast<int>(total));
    progress_->setValue(static_cast<int>(done));
    status_->setText(tr("Extracting image features (once per dataset): %1 / %2 images, %3 images/s, ETA %4   (Stop cancels)")
                         .arg(done).arg(total).arg(rate, 0, 'f', 1).arg(QString::fromStdString(format_duration(eta))));
  }, Qt::QueuedConnection);
  connect(worker_, &TrainWorker::message, this, [this](const QString& text) { log_->appendPlainText(text); },
          Qt::QueuedConnection);
  connect(worker_, &TrainWorker::finished, this, [this](bool ok, const QString& error, const QString& run_dir) {
    if (!ok) {
      log_->appendPlainText(tr("Training failed: %1").arg(error));
      Q_EMIT errorOccurred(error);
    }
    last_run_ = run_dir;
    if (state_ == QLatin1String("preparing") || state_ == QLatin1String("running") || state_ == QLatin1String("paused"))
      onState(ok ? QStringLiteral("stopped") : QStringLiteral("failed"));
    describeDataset();
    Q_EMIT trainingFinished(run_dir, ok);
  }, Qt::QueuedConnection);
  thread_->start();
  updateButtons();
}

TrainingTab::~TrainingTab() { stopAndWait(); }

void TrainingTab::stopAndWait() {
  if (!thread_->isRunning()) return;
  worker_->stop();
  thread_->quit();
  thread_->wait();
}

bool TrainingTab::isTraining() const {
  return state_ == QLatin1String("preparing") || state_ == QLatin1String("running") || state_ == QLatin1String("paused");
}

void TrainingTab::setDataset(const QString& path, const QString& image_dir) {
  dataset_ = path;
  image_dir_ = image_dir;
  dataset_label_->setText(image_dir.isEmpty() ? QDir::toNativeSeparators(path)
                                              : tr("%1\nimages in %2").arg(QDir::toNativeSeparators(path), QDir::toNativeSeparators(image_dir)));
  describeDataset();
  updateButtons();
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
    const auto vocab = Vocabulary::build(captions, min_count_->value());
    const bool cached = ds.format == DatasetFormat::Handout ||
                        (image_dir_.isEmpty() && std::filesystem::exists(ds.image_root + "/" + feature_cache_name(parse_grid_layer(layer_->currentData().toString().toStdString())) + "/grid.npy"));
    dataset_info_->setText(tr("%1 images, %2 captions; vocabulary %3 words at min count %4; split %5 train / %6 val / "
                              "%7 test; features %8")
                               .arg(ds.images.size())
                               .arg(ds.caption_count())
                               .arg(vocab.size())
                               .arg(min_count_->value())
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
  request.layer = layer_->currentData().toString();
  const QString runs = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/runs");
  request.run_dir = runs + QStringLiteral("/") + QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  QDir().mkpath(runs);
  TrainConfig& c = request.config;
  c.model.kind = kind_->currentData().toString().toStdString();
  c.model.hidden = hidden_->value();
  c.model.embed = embed_->value();
  c.model.layers = c.model.kind == "attention" ? 1 : layers_->value();
  c.model.dropout = dropout_->value();
  c.batch_size = batch_->value();
  c.lr = lr_->value();
  c.max_len = max_len_->value();
  c.min_count = min_count_->value();
  c.val_every = val_every_->value();
  c.val_batches = 4;
  c.steps = steps_->value();
  c.checkpoint_every = std::max(100, steps_->value() / 10);
  c.threads = threads_->value();
  c.device = device_->currentData().toString().toStdString();
  plot_->clear();
  samples_->clear();
  log_->appendPlainText(tr("Run folder: %1").arg(request.run_dir));
  last_run_ = request.run_dir;
  onState(QStringLiteral("preparing"));
  Q_EMIT requestRun(request);
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
  plot_->clear();
  samples_->clear();
  log_->appendPlainText(tr("Resuming %1").arg(run_dir));
  last_run_ = run_dir;
  onState(QStringLiteral("preparing"));
  Q_EMIT requestRun(request);
}

void TrainingTab::pause() { worker_->pause(); }
void TrainingTab::unpause() { worker_->unpause(); }
void TrainingTab::stop() { worker_->stop(); }

void TrainingTab::onStatus(const TrainStatus& s) {
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

void TrainingTab::onState(const QString& state) {
  state_ = state;
  if (state == QLatin1String("preparing")) status_->setText(tr("Preparing data (features are extracted once)…"));
  if (state == QLatin1String("paused")) status_->setText(status_->text() + tr("   (paused)"));
  updateButtons();
  Q_EMIT stateChanged(state);
}

void TrainingTab::updateButtons() {
  const bool busy = isTraining();
  start_->setEnabled(!busy && !dataset_.isEmpty());
  resume_run_->setEnabled(!busy && !dataset_.isEmpty());
  pause_->setEnabled(state_ == QLatin1String("running"));
  unpause_->setEnabled(state_ == QLatin1String("paused"));
  stop_->setEnabled(busy);
  layers_->setEnabled(!busy && kind_->currentData().toString() == QLatin1String("lstm"));
  for (QWidget* w : std::initializer_list<QWidget*>{kind_, layer_, hidden_, embed_, dropout_, batch_, lr_, max_len_, min_count_,
                                                    val_every_, steps_, threads_, device_})
    w->setEnabled(!busy);
}

void TrainingTab::saveSettings() const {
  QSettings s;
  s.beginGroup(QStringLiteral("training"));
  s.setValue(QStringLiteral("dataset"), dataset_);
  s.setValue(QStringLiteral("kind"), kind_->currentIndex());
  s.setValue(QStringLiteral("layer"), layer_->currentIndex());
  s.setValue(QStringLiteral("hidden"), hidden_->value());
  s.setValue(QStringLiteral("embed"), embed_->value());
  s.setValue(QStringLiteral("layers"), layers_->value());
  s.setValue(QStringLiteral("image_dir"), image_dir_);
  s.setValue(QStringLiteral("dropout"), dropout_->value());
  s.setValue(QStringLiteral("batch"), batch_->value());
  s.setValue(QStringLiteral("lr"), lr_->value());
  s.setValue(QStringLiteral("max_len"), max_len_->value());
  s.setValue(QStringLiteral("min_count"), min_count_->value());
  s.setValue(QStringLiteral("val_every"), val_every_->value());
  s.setValue(QStringLiteral("steps"), steps_->value());
  s.setValue(QStringLiteral("threads"), threads_->value());
  s.setValue(QStringLiteral("smoothing"), plot_->smoothing());
  s.endGroup();
}

void TrainingTab::loadSettings() {
  QSettings s;
  s.beginGroup(QStringLiteral("training"));
  kind_->setCurrentIndex(s.value(QStringLiteral("kind"), kind_->currentIndex()).toInt());
  layer_->setCurrentIndex(s.value(QStringLiteral("layer"), layer_->currentIndex()).toInt());
  hidden_->setValue(s.value(QStringLiteral("hidden"), hidden_->value()).toInt());
  embed_->setValue(s.value(QStringLiteral("embed"), embed_->value()).toInt());
  layers_->setValue(s.value(QStringLiteral("layers"), layers_->value()).toInt());
  const QString image_dir = s.value(QStringLiteral("image_dir")).toString();
  dropout_->setValue(s.value(QStringLiteral("dropout"), dropout_->value()).toDouble());
  batch_->setValue(s.value(QStringLiteral("batch"), batch_->value()).toInt());
  lr_->setValue(s.value(QStringLiteral("lr"), lr_->value()).toDouble());
  max_len_->setValue(s.value(QStringLiteral("max_len"), max_len_->value()).toInt());
  min_count_->setValue(s.value(QStringLiteral("min_count"), min_count_->value()).toInt());
  val_every_->setValue(s.value(QStringLiteral("val_every"), val_every_->value()).toInt());
  steps_->setValue(s.value(QStringLiteral("steps"), steps_->value()).toInt());
  threads_->setValue(s.value(QStringLiteral("threads"), threads_->value()).toInt());
  plot_->setSmoothing(s.value(QStringLiteral("smoothing"), plot_->smoothing()).toDouble());
  const QString dataset = s.value(QStringLiteral("dataset")).toString();
  s.endGroup();
  if (!dataset.isEmpty() && QFileInfo::exists(dataset)) setDataset(dataset, image_dir);
}

}  // namespace captioner::ui
