#pragma once
// The image with the selected word's attention map over it, the view's controls (opacity, grid
// lines, same colour scale for all words, Play) and a grid of every word's map that wraps with the
// view's width, titled with the words and their probabilities, with a colour bar. It draws; the
// Caption tab says what.
#include <QImage>
#include <QWidget>

#include <vector>

#include "core/infer/caption_service.h"
#include "ui/settings_table.h"

class QCheckBox;
class QLabel;
class QPushButton;
class QScrollArea;
class QSlider;
class QTimer;

namespace captioner::ui {

class HeatmapView : public QWidget {
  Q_OBJECT
 public:
  explicit HeatmapView(QWidget* parent = nullptr);
  // What to show: the image, the caption's words (empty: none) and the selected word. `note`
  // explains the view when there is no map to show.
  void show(const QImage& image, const std::vector<CaptionWord>& words, int word, const QString& note);
  QImage overlay() const;  // the image with the selected word's map, as shown (before scaling)
  bool exportStrip(const QString& path) const;
  void stopPlaying();
  SettingsTable settings() const;

 protected:
  void resizeEvent(QResizeEvent* event) override;

 Q_SIGNALS:
  void playStarted();  // Play pressed: back to the first word
  void playStep();     // Play asks for the next word

 private:
  QImage overlayFor(int word, bool grid) const;
  int stripColumns() const;
  void drawGrid(QImage& image) const;  // the 8x8 cell lines of the selected word's map
  void updateStrip();
  void updateView();

  QImage image_;
  std::vector<CaptionWord> words_;
  int word_ = 0;
  QString note_;
  QLabel* heatmap_;
  QLabel* note_label_;
  QSlider* opacity_;
  QCheckBox* grid_lines_;
  QCheckBox* same_scale_;
  QPushButton* play_;
  QTimer* play_timer_;
  QLabel* strip_;
  QScrollArea* strip_scroll_;
};

}  // namespace captioner::ui
