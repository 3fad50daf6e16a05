#pragma once
// The Caption tab: drop, paste or open images; choose greedy, sampled (temperature) or beam
// decoding; read the captions word by word with each word's probability, and for attention
// models see the selected word's 8x8 map over the image, step through the words or play them,
// and export the strip of all maps and the captions as JSON.
#include <QImage>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <memory>
#include <string>
#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QHBoxLayout;
class QLabel;
class QListWidget;
class QMimeData;
class QPushButton;
class QSlider;
class QSpinBox;
class QTimer;

namespace captioner {
class CaptionService;
struct CaptionResult;
}  // namespace captioner

namespace captioner::ui {

class CaptionTab : public QWidget {
  Q_OBJECT
 public:
  explicit CaptionTab(QWidget* parent = nullptr);
  ~CaptionTab() override;

  // Loads a run folder or checkpoint; false (and errorOccurred) when it cannot be used.
  bool loadModel(const QString& path);
  QString modelPath() const { return model_path_; }
  // Adds images (local files) and captions the last one. Returns how many were added.
  int addImages(const QStringList& paths);
  // Adds what a drop or a paste carries: local file URLs or image data.
  int addMimeData(const QMimeData* mime);
  void paste();
  void setMode(const QString& mode);  // greedy | sample | beam
  void setTemperature(double t);
  double temperature() const;
  // Sampling draws from seed, seed + 1, ... one per decoding, so a session is repeatable; the
  // tab starts from the clock.
  void setSamplingSeed(quint64 seed) { next_seed_ = seed; }
  // Decodes the current image now (blocking) and returns the caption texts shown.
  QStringList captionNow();
  QStringList captionTexts() const;
  int wordCount() const;
  void selectWord(int index);
  int selectedWord() const { return word_; }
  bool exportStrip(const QString& path) const;
  bool exportJson(const QString& path) const;
  QImage heatmapImage() const;
  void saveSettings() const;
  void loadSettings();

 Q_SIGNALS:
  void errorOccurred(const QString& text);
  void captioned(const QStringList& captions);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;

 private:
  void showImage(int index);
  void recaption();
  void showResults();
  void showWord();
  QImage overlayFor(int word) const;
  void requestFromControls();

  std::unique_ptr<CaptionService> service_;
  QString model_path_;
  QStringList images_;
  int current_ = -1;
  QImage image_;
  std::vector<CaptionResult> results_;
  int caption_ = 0;
  int word_ = 0;
  quint64 next_seed_;

  QLabel* model_label_;
  QListWidget* thumbnails_;
  QComboBox* mode_;
  QSlider* temperature_slider_;
  QDoubleSpinBox* temperature_;
  QSpinBox* beam_;
  QSpinBox* samples_;
  QListWidget* captions_;
  QWidget* words_box_;
  QHBoxLayout* words_layout_;
  QLabel* heatmap_;
  QLabel* heatmap_note_;
  QSlider* opacity_;
  QCheckBox* grid_lines_;
  QPushButton* play_;
  QTimer* play_timer_;
  QLabel* strip_;
};

}  // namespace captioner::ui
