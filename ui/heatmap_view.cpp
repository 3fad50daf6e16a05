#include "ui/heatmap_view.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QScrollArea>
#include <QSlider>
#include <QTimer>
#include <QVBoxLayout>

#include <opencv2/imgproc.hpp>

#include <cmath>

#include "core/data/tokenizer.h"
#include "core/infer/attention_overlay.h"

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

constexpr int kStripTile = 110;  // the strip's tile width on screen (exports use 160)

AttentionSheetOptions sheet_options(int tile, int columns, double opacity, bool same_scale) {
  AttentionSheetOptions o;
  o.tile = tile;
  o.columns = columns;
  o.opacity = opacity;
  o.same_scale = same_scale;
  return o;
}

std::vector<StripWord> strip_words(const std::vector<CaptionWord>& words) {
  std::vector<StripWord> out;
  out.reserve(words.size());
  for (const auto& w : words) out.push_back({w.word, w.attention, std::exp(static_cast<double>(w.log_prob))});
  return out;
}

}  // namespace

HeatmapView::HeatmapView(QWidget* parent) : QWidget(parent) {
  heatmap_ = new QLabel(this);
  heatmap_->setMinimumSize(160, 160);
  // The pixmap follows the label's size, not the other way round, so the window can shrink.
  heatmap_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Ignored);
  heatmap_->setAlignment(Qt::AlignCenter);
  heatmap_->setAccessibleName(tr("Image with the selected word's attention"));
  note_label_ = new QLabel(this);
  note_label_->setWordWrap(true);
  opacity_ = new QSlider(Qt::Horizontal, this);
  opacity_->setRange(0, 100);
  opacity_->setValue(70);
  opacity_->setAccessibleName(tr("Heatmap opacity"));
  opacity_->setToolTip(tr("Heatmap opacity"));
  same_scale_ = new QCheckBox(tr("Same scale"), this);
  same_scale_->setObjectName(QStringLiteral("sameScale"));
  same_scale_->setToolTip(
      tr("The tiles below share one colour scale (the bar's top is the largest weight of any word), "
         "so the words' maps compare; off: each word's map uses the whole scale"));
  connect(same_scale_, &QCheckBox::toggled, this, &HeatmapView::updateStrip);
  grid_lines_ = new QCheckBox(tr("Grid lines"), this);
  grid_lines_->setToolTip(tr("Show the 8×8 cells the model attends over"));
  play_ = new QPushButton(tr("▶ Play"), this);
  play_->setAccessibleName(tr("Play the sentence word by word"));
  play_timer_ = new QTimer(this);
  play_timer_->setInterval(700);
  strip_ = new QLabel(this);
  strip_scroll_ = new QScrollArea(this);
  strip_scroll_->setWidget(strip_);
  strip_scroll_->setFixedHeight(190);

  connect(opacity_, &QSlider::valueChanged, this, [this] {
    updateStrip();
    updateView();
  });
  connect(grid_lines_, &QCheckBox::toggled, this, &HeatmapView::updateView);
  connect(play_, &QPushButton::clicked, this, [this] {
    if (play_timer_->isActive()) return stopPlaying();
    Q_EMIT playStarted();
    play_timer_->start();
    play_->setText(tr("■ Stop"));
  });
  connect(play_timer_, &QTimer::timeout, this, &HeatmapView::playStep);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Opacity"), this));
  controls->addWidget(opacity_, 1);
  controls->addWidget(grid_lines_);
  controls->addWidget(same_scale_);
  controls->addWidget(play_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(heatmap_, 1);
  layout->addWidget(note_label_);
  layout->addLayout(controls);
  layout->addWidget(strip_scroll_);
  updateView();
}

void HeatmapView::show(const QImage& image, const std::vector<CaptionWord>& words, int word, const QString& note) {
  const bool new_words = image.cacheKey() != image_.cacheKey() || words.size() != words_.size() ||
                         !std::equal(words.begin(), words.end(), words_.begin(), [](const CaptionWord& a, const CaptionWord& b) {
                           return a.word == b.word && a.attention == b.attention;
                         });
  image_ = image;
  words_ = words;
  word_ = word;
  note_ = note;
  if (new_words) updateStrip();
  updateView();
}

void HeatmapView::stopPlaying() {
  play_timer_->stop();
  play_->setText(tr("▶ Play"));
}

QImage HeatmapView::overlay() const { return overlayFor(word_, true); }

QImage HeatmapView::overlayFor(int word, bool grid) const {
  if (image_.isNull()) return {};
  if (word < 0 || word >= static_cast<int>(words_.size())) return image_;
  const auto& map = words_[static_cast<size_t>(word)].attention;
  if (map.empty()) return image_;
  QImage out = to_qimage(overlay_attention(to_bgr(image_), map, opacity_->value() / 100.0));
  if (grid) drawGrid(out);
  return out;
}

void HeatmapView::drawGrid(QImage& image) const {
  if (!grid_lines_->isChecked() || word_ < 0 || word_ >= static_cast<int>(words_.size())) return;
  const auto& map = words_[static_cast<size_t>(word_)].attention;
  if (map.empty()) return;
  QPainter p(&image);
  p.setPen(QPen(QColor(255, 255, 255, 120), 1));
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(map.size()))));
  for (int i = 1; i < side; ++i) {
    p.drawLine(image.width() * i / side, 0, image.width() * i / side, image.height());
    p.drawLine(0, image.height() * i / side, image.width(), image.height() * i / side);
  }
}

void HeatmapView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  updateStrip();
  updateView();
}

int HeatmapView::stripColumns() const {
  // As many tiles as fit beside the colour bar: the grid wraps with the window's width.
  return std::max(2, (strip_scroll_->viewport()->width() - 100) / (kStripTile + 6));
}

void HeatmapView::updateStrip() {
  const bool attends = !words_.empty() && !words_.front().attention.empty();
  if (!attends || image_.isNull()) {
    strip_->clear();
    return;
  }
  const QImage strip =
      to_qimage(attention_sheet(to_bgr(image_), strip_words(words_),
                                sheet_options(kStripTile, stripColumns(), opacity_->value() / 100.0, same_scale_->isChecked())));
  strip_->setPixmap(QPixmap::fromImage(strip));
  strip_->resize(strip.size());
}

void HeatmapView::updateView() {
  note_label_->setText(note_);
  if (image_.isNull()) {
    heatmap_->setText(tr("Drop images here, paste one (Ctrl+V), or open them from the File menu."));
    return;
  }
  // Scaled to the space the label has now (it shrinks with the window), the grid drawn after
  // scaling so its lines stay one pixel sharp.
  QImage shown = overlayFor(word_, false)
                     .scaled(heatmap_->size().boundedTo(QSize(1024, 1024)), Qt::KeepAspectRatio, Qt::SmoothTransformation);
  drawGrid(shown);
  heatmap_->setPixmap(QPixmap::fromImage(shown));
  // The selected word's tile in the strip (after the image's own tile) stays in view.
  if (!strip_->pixmap().isNull()) {
    const int columns = stripColumns(), tile = word_ + 1;  // the image is the first tile
    const int tile_h = kStripTile * image_.height() / std::max(1, image_.width());
    strip_scroll_->ensureVisible(8 + (tile % columns) * (kStripTile + 6) + kStripTile / 2,
                                 8 + (tile / columns) * (22 + tile_h + 6) + tile_h / 2, kStripTile / 2, tile_h / 2 + 11);
  }
}

bool HeatmapView::exportStrip(const QString& path) const {
  if (words_.empty() || image_.isNull()) return false;
  AttentionSheetOptions o = sheet_options(160, 6, opacity_->value() / 100.0, same_scale_->isChecked());
  for (const auto& w : words_) o.caption += (o.caption.empty() ? "" : " ") + w.word;
  o.caption = readable_caption(o.caption);
  return to_qimage(attention_sheet(to_bgr(image_), strip_words(words_), o)).save(path);
}

SettingsTable HeatmapView::settings() const {
  return {
      {QStringLiteral("opacity"), opacity_}, {QStringLiteral("grid"), grid_lines_}, {QStringLiteral("same_scale"), same_scale_}};
}

}  // namespace captioner::ui
