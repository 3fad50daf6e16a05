// Core headers first (LibTorch via caption_service.cpp is not included here, but OpenCV is).
#include "core/infer/attention_overlay.h"
#include "core/infer/caption_service.h"

#include "ui/caption_tab.h"

#include <opencv2/imgproc.hpp>

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QListWidget>
#include <QMimeData>
#include <QPainter>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>

namespace captioner::ui {

namespace {

cv::Mat to_bgr(const QImage& image) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
  cv::Mat view(rgb.height(), rgb.width(), CV_8UC3, const_cast<uchar*>(rgb.constBits()), static_cast<size_t>(rgb.bytesPerLine()));
  cv::Mat bgr;
  cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

QImage to_qimage(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return QImage(rgb.data, rgb.cols, rgb.rows, static_cast<qsizetype>(rgb.step), QImage::Format_RGB888).copy();
}

}  // namespace

CaptionTab::CaptionTab(QWidget* parent)
    : QWidget(parent),
      service_(std::make_unique<CaptionService>()),
      next_seed_(static_cast<quint64>(QDateTime::currentMSecsSinceEpoch())) {
  setAcceptDrops(true);
  model_label_ = new QLabel(tr("No model yet: train one in the Training tab, or File ▸ Open model."), this);
  model_label_->setWordWrap(true);
  thumbnails_ = new QListWidget(this);
  thumbnails_->setViewMode(QListView::IconMode);
  thumbnails_->setFlow(QListView::LeftToRight);
  thumbnails_->setIconSize(QSize(72, 72));
  thumbnails_->setFixedHeight(110);
  thumbnails_->setToolTip(tr("Drop images here, paste one (Ctrl+V), or use File ▸ Open images"));
  connect(thumbnails_, &QListWidget::currentRowChanged, this, &CaptionTab::showImage);

  mode_ = new QComboBox(this);
  mode_->addItem(tr("Greedy"), QStringLiteral("greedy"));
  mode_->addItem(tr("Sample"), QStringLiteral("sample"));
  mode_->addItem(tr("Beam search"), QStringLiteral("beam"));
  mode_->setToolTip(tr("Greedy: the likeliest word each step. Sample: draw words at a temperature. Beam: keep the best hypotheses."));
  temperature_slider_ = new QSlider(Qt::Horizontal, this);
  temperature_slider_->setRange(5, 300);
  temperature_slider_->setValue(100);
  temperature_slider_->setAccessibleName(tr("Temperature"));
  temperature_ = new QDoubleSpinBox(this);
  temperature_->setRange(0.05, 3.0);
  temperature_->setSingleStep(0.05);
  temperature_->setValue(1.0);
  temperature_->setToolTip(tr("Sampling temperature: low is safe and repetitive, high is varied and wild"));
  beam_ = new QSpinBox(this);
  beam_->setRange(1, 20);
  beam_->setValue(3);
  beam_->setToolTip(tr("Beam width"));
  samples_ = new QSpinBox(this);
  samples_->setRange(1, 20);
  samples_->setValue(3);
  samples_->setToolTip(tr("Captions drawn when sampling"));
  connect(temperature_slider_, &QSlider::valueChanged, this, [this](int v) {
    if (std::lround(temperature_->value() * 100) != v) temperature_->setValue(v / 100.0);
  });
  connect(temperature_, &QDoubleSpinBox::valueChanged, this, [this](double t) {
    const int v = static_cast<int>(std::lround(t * 100));
    if (temperature_slider_->value() != v) temperature_slider_->setValue(v);
    if (mode_->currentData().toString() == QLatin1String("sample")) recaption();
  });
  connect(mode_, &QComboBox::currentIndexChanged, this, [this] { recaption(); });
  connect(beam_, &QSpinBox::valueChanged, this, [this] { recaption(); });
  connect(samples_, &QSpinBox::valueChanged, this, [this] { recaption(); });

  auto* controls = new QFormLayout;
  controls->addRow(tr("Decoding"), mode_);
  auto* t_row = new QHBoxLayout;
  t_row->addWidget(temperature_slider_, 1);
  t_row->addWidget(temperature_);
  controls->addRow(tr("Temperature"), t_row);
  controls->addRow(tr("Beam width"), beam_);
  controls->addRow(tr("Samples"), samples_);

  captions_ = new QListWidget(this);
  captions_->setToolTip(tr("Captions, best first, with their log-probability"));
  connect(captions_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row < 0 || row >= static_cast<int>(results_.size())) return;
    caption_ = row;
    word_ = 0;
    showResults();
  });
  words_box_ = new QWidget(this);
  words_layout_ = new QHBoxLayout(words_box_);
  words_layout_->setContentsMargins(0, 0, 0, 0);
  auto* words_scroll = new QScrollArea(this);
  words_scroll->setWidget(words_box_);
  words_scroll->setWidgetResizable(true);
  words_scroll->setFixedHeight(64);

  heatmap_ = new QLabel(this);
  heatmap_->setMinimumSize(320, 320);
  heatmap_->setAlignment(Qt::AlignCenter);
  heatmap_->setAccessibleName(tr("Image with the selected word's attention"));
  heatmap_note_ = new QLabel(this);
  heatmap_note_->setWordWrap(true);
  opacity_ = new QSlider(Qt::Horizontal, this);
  opacity_->setRange(0, 100);
  opacity_->setValue(70);
  opacity_->setAccessibleName(tr("Heatmap opacity"));
  opacity_->setToolTip(tr("Heatmap opacity"));
  connect(opacity_, &QSlider::valueChanged, this, [this] { showWord(); });
  grid_lines_ = new QCheckBox(tr("Grid lines"), this);
  grid_lines_->setToolTip(tr("Show the 8×8 cells the model attends over"));
  connect(grid_lines_, &QCheckBox::toggled, this, [this] { showWord(); });
  play_ = new QPushButton(tr("▶ Play"), this);
  play_->setAccessibleName(tr("Play the sentence word by word"));
  play_timer_ = new QTimer(this);
  play_timer_->setInterval(700);
  connect(play_, &QPushButton::clicked, this, [this] {
    if (play_timer_->isActive()) {
      play_timer_->stop();
      play_->setText(tr("▶ Play"));
    } else {
      selectWord(0);
      play_timer_->start();
      play_->setText(tr("■ Stop"));
    }
  });
  connect(play_timer_, &QTimer::timeout, this, [this] {
    if (word_ + 1 >= wordCount()) {
      play_timer_->stop();
      play_->setText(tr("▶ Play"));
      return;
    }
    selectWord(word_ + 1);
  });
  strip_ = new QLabel(this);
  auto* strip_scroll = new QScrollArea(this);
  strip_scroll->setWidget(strip_);
  strip_scroll->setFixedHeight(150);

  auto* left = new QVBoxLayout;
  left->addWidget(model_label_);
  left->addLayout(controls);
  left->addWidget(new QLabel(tr("Captions"), this));
  left->addWidget(captions_, 1);
  auto* left_widget = new QWidget(this);
  left_widget->setLayout(left);
  auto* view_controls = new QHBoxLayout;
  view_controls->addWidget(new QLabel(tr("Opacity"), this));
  view_controls->addWidget(opacity_, 1);
  view_controls->addWidget(grid_lines_);
  view_controls->addWidget(play_);
  auto* right = new QVBoxLayout;
  right->addWidget(words_scroll);
  right->addWidget(heatmap_, 1);
  right->addWidget(heatmap_note_);
  right->addLayout(view_controls);
  right->addWidget(strip_scroll);
  auto* right_widget = new QWidget(this);
  right_widget->setLayout(right);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(left_widget);
  split->addWidget(right_widget);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(thumbnails_);
  layout->addWidget(split, 1);
  setFocusPolicy(Qt::StrongFocus);
}

CaptionTab::~CaptionTab() = default;

bool CaptionTab::loadModel(const QString& path) {
  try {
    service_->load_model(path.toStdString());
  } catch (const std::exception& e) {
    Q_EMIT errorOccurred(tr("Cannot use this model: %1").arg(QString::fromStdString(e.what())));
    return false;
  }
  model_path_ = path;
  model_label_->setText(tr("Model: %1 (%2)").arg(QDir::toNativeSeparators(path), QString::fromStdString(service_->model_summary())));
  recaption();
  return true;
}

int CaptionTab::addImages(const QStringList& paths) {
  int added = 0;
  for (const QString& path : paths) {
    QImage thumb(path);
    if (thumb.isNull()) {
      Q_EMIT errorOccurred(tr("%1: not an image this application can read").arg(QDir::toNativeSeparators(path)));
      continue;
    }
    images_ << path;
    auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(thumb.scaled(72, 72, Qt::KeepAspectRatio, Qt::SmoothTransformation))),
                                     QFileInfo(path).fileName());
    item->setToolTip(path);
    thumbnails_->addItem(item);
    ++added;
  }
  if (added > 0) thumbnails_->setCurrentRow(static_cast<int>(images_.size()) - 1);
  return added;
}

int CaptionTab::addMimeData(const QMimeData* mime) {
  if (mime == nullptr) return 0;
  if (mime->hasUrls()) {
    QStringList files;
    for (const QUrl& url : mime->urls())
      if (url.isLocalFile()) files << url.toLocalFile();
    if (!files.isEmpty()) return addImages(files);
  }
  if (mime->hasImage()) {
    const QImage image = qvariant_cast<QImage>(mime->imageData());
    if (image.isNull()) return 0;
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/pasted");
    QDir().mkpath(dir);
    const QString path = dir + QStringLiteral("/pasted-%1.png").arg(QDateTime::currentMSecsSinceEpoch());
    if (!image.save(path)) {
      Q_EMIT errorOccurred(tr("%1: cannot save the pasted image").arg(path));
      return 0;
    }
    return addImages({path});
  }
  return 0;
}

void CaptionTab::paste() { addMimeData(QApplication::clipboard()->mimeData()); }

void CaptionTab::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls() || event->mimeData()->hasImage()) event->acceptProposedAction();
}

void CaptionTab::dropEvent(QDropEvent* event) {
  if (addMimeData(event->mimeData()) > 0) event->acceptProposedAction();
}

void CaptionTab::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Right) selectWord(word_ + 1);
  else if (event->key() == Qt::Key_Left) selectWord(word_ - 1);
  else QWidget::keyPressEvent(event);
}

void CaptionTab::setMode(const QString& mode) {
  const int i = mode_->findData(mode);
  if (i >= 0) mode_->setCurrentIndex(i);
}

void CaptionTab::setTemperature(double t) { temperature_->setValue(t); }
double CaptionTab::temperature() const { return temperature_->value(); }

void CaptionTab::showImage(int index) {
  if (index < 0 || index >= images_.size()) return;
  current_ = index;
  image_ = QImage(images_[index]);
  recaption();
}

QStringList CaptionTab::captionNow() {
  recaption();
  return captionTexts();
}

void CaptionTab::recaption() {
  results_.clear();
  caption_ = 0;
  word_ = 0;
  if (current_ < 0 || !service_->has_model()) {
    showResults();
    return;
  }
  CaptionRequest request;
  request.mode = mode_->currentData().toString().toStdString();
  request.temperature = temperature_->value();
  request.beam_width = beam_->value();
  request.samples = samples_->value();
  request.max_len = 24;
  request.seed = next_seed_++;
  try {
    results_ = service_->caption(images_[current_].toStdString(), request);
  } catch (const std::exception& e) {
    Q_EMIT errorOccurred(QString::fromStdString(e.what()));
  }
  showResults();
  Q_EMIT captioned(captionTexts());
}

QStringList CaptionTab::captionTexts() const {
  QStringList out;
  for (const auto& r : results_) out << QString::fromStdString(r.text);
  return out;
}

int CaptionTab::wordCount() const {
  return caption_ < static_cast<int>(results_.size()) ? static_cast<int>(results_[static_cast<size_t>(caption_)].words().size()) : 0;
}

void CaptionTab::showResults() {
  const QSignalBlocker block(captions_);
  captions_->clear();
  for (const auto& r : results_)
    captions_->addItem(QStringLiteral("%1   (log p %2)").arg(QString::fromStdString(r.text)).arg(r.log_prob, 0, 'f', 2));
  if (!results_.empty()) captions_->setCurrentRow(caption_);
  // Word buttons of the selected caption.
  while (auto* item = words_layout_->takeAt(0)) {
    delete item->widget();
    delete item;
  }
  for (int i = 0; i < wordCount(); ++i) {
    const auto& w = results_[static_cast<size_t>(caption_)].tokens[static_cast<size_t>(i)];
    auto* b = new QPushButton(QStringLiteral("%1\n%2%").arg(QString::fromStdString(w.word)).arg(std::exp(w.log_prob) * 100, 0, 'f', 0), words_box_);
    b->setCheckable(true);
    b->setToolTip(tr("p = %1").arg(std::exp(w.log_prob), 0, 'f', 3));
    connect(b, &QPushButton::clicked, this, [this, i] { selectWord(i); });
    words_layout_->addWidget(b);
  }
  words_layout_->addStretch(1);
  // Strip of every word's map.
  if (wordCount() > 0 && service_->model_attends() && !image_.isNull()) {
    std::vector<StripWord> words;
    for (const auto& w : results_[static_cast<size_t>(caption_)].words()) words.push_back({w.word, w.attention});
    const QImage strip = to_qimage(attention_strip(to_bgr(image_), words, 110, opacity_->value() / 100.0));
    strip_->setPixmap(QPixmap::fromImage(strip));
    strip_->resize(strip.size());
  } else {
    strip_->clear();
  }
  showWord();
}

void CaptionTab::selectWord(int index) {
  if (wordCount() == 0) return;
  word_ = std::clamp(index, 0, wordCount() - 1);
  showWord();
}

QImage CaptionTab::overlayFor(int word) const {
  if (image_.isNull()) return {};
  if (word < 0 || word >= wordCount()) return image_;
  const auto& map = results_[static_cast<size_t>(caption_)].tokens[static_cast<size_t>(word)].attention;
  if (map.empty()) return image_;
  QImage out = to_qimage(overlay_attention(to_bgr(image_), map, opacity_->value() / 100.0));
  if (grid_lines_->isChecked()) {
    QPainter p(&out);
    p.setPen(QPen(QColor(255, 255, 255, 120), 1));
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(map.size()))));
    for (int i = 1; i < side; ++i) {
      p.drawLine(out.width() * i / side, 0, out.width() * i / side, out.height());
      p.drawLine(0, out.height() * i / side, out.width(), out.height() * i / side);
    }
  }
  return out;
}

QImage CaptionTab::heatmapImage() const { return overlayFor(word_); }

void CaptionTab::showWord() {
  for (int i = 0; i < words_layout_->count(); ++i)
    if (auto* b = qobject_cast<QPushButton*>(words_layout_->itemAt(i)->widget())) b->setChecked(i == word_);
  if (image_.isNull()) {
    heatmap_->setText(tr("Drop images here, paste one (Ctrl+V), or open them from the File menu."));
    heatmap_note_->clear();
    return;
  }
  const QImage shown = overlayFor(word_);
  heatmap_->setPixmap(QPixmap::fromImage(shown.scaled(heatmap_->size().boundedTo(QSize(640, 640)).expandedTo(QSize(320, 320)),
                                                      Qt::KeepAspectRatio, Qt::SmoothTransformation)));
  if (!service_->has_model()) heatmap_note_->setText(tr("No model loaded yet."));
  else if (!service_->model_attends())
    heatmap_note_->setText(tr("This is an LSTM model: it reads one vector for the whole image, so it has no attention "
                              "map to show. Train an attention model to see where it looks."));
  else if (wordCount() > 0)
    heatmap_note_->setText(tr("Where the model looked for “%1” (← → to step through the words)")
                               .arg(QString::fromStdString(results_[static_cast<size_t>(caption_)].tokens[static_cast<size_t>(word_)].word)));
  else heatmap_note_->clear();
}

bool CaptionTab::exportStrip(const QString& path) const {
  if (wordCount() == 0 || image_.isNull()) return false;
  std::vector<StripWord> words;
  for (const auto& w : results_[static_cast<size_t>(caption_)].words()) words.push_back({w.word, w.attention});
  return to_qimage(attention_strip(to_bgr(image_), words, 160, opacity_->value() / 100.0)).save(path);
}

bool CaptionTab::exportJson(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) return false;
  const QString image = current_ >= 0 ? images_[current_] : QString();
  const std::string json = captions_to_json(results_, image.toStdString());
  return file.write(json.data(), static_cast<qint64>(json.size())) == static_cast<qint64>(json.size());
}

void CaptionTab::saveSettings() const {
  QSettings s;
  s.beginGroup(QStringLiteral("caption"));
  s.setValue(QStringLiteral("mode"), mode_->currentIndex());
  s.setValue(QStringLiteral("temperature"), temperature_->value());
  s.setValue(QStringLiteral("beam"), beam_->value());
  s.setValue(QStringLiteral("samples"), samples_->value());
  s.setValue(QStringLiteral("opacity"), opacity_->value());
  s.setValue(QStringLiteral("grid"), grid_lines_->isChecked());
  s.setValue(QStringLiteral("model"), model_path_);
  s.endGroup();
}

void CaptionTab::loadSettings() {
  QSettings s;
  s.beginGroup(QStringLiteral("caption"));
  {
    const QSignalBlocker b1(mode_), b2(temperature_), b3(beam_), b4(samples_);
    mode_->setCurrentIndex(s.value(QStringLiteral("mode"), 0).toInt());
    temperature_->setValue(s.value(QStringLiteral("temperature"), 1.0).toDouble());
    temperature_slider_->setValue(static_cast<int>(std::lround(temperature_->value() * 100)));
    beam_->setValue(s.value(QStringLiteral("beam"), 3).toInt());
    samples_->setValue(s.value(QStringLiteral("samples"), 3).toInt());
  }
  opacity_->setValue(s.value(QStringLiteral("opacity"), 70).toInt());
  grid_lines_->setChecked(s.value(QStringLiteral("grid"), false).toBool());
  const QString model = s.value(QStringLiteral("model")).toString();
  s.endGroup();
  if (!model.isEmpty() && QFileInfo::exists(model)) loadModel(model);
}

}  // namespace captioner::ui
