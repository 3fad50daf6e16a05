#pragma once
// The Caption tab: drop, paste or open images (ImageList); choose greedy, sampled (temperature)
// or beam decoding (DecodingControls); read the captions word by word with each word's
// probability (WordBar), and for attention models see the selected word's 8x8 map over the image,
// step through the words or play them (HeatmapView); export the strip of all maps and the
// captions as JSON.
#include <QImage>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <memory>
#include <vector>

#include "ui/caption_worker.h"

class QLabel;
class QListWidget;
class QMimeData;
class QProgressBar;
class QThread;

namespace captioner {
class CaptionService;
struct CaptionResult;
struct CaptionWord;
}  // namespace captioner

namespace captioner::ui {

class DecodingControls;
class HeatmapView;
class ImageList;
class WordBar;

class CaptionTab : public QWidget {
  Q_OBJECT
 public:
  explicit CaptionTab(QWidget* parent = nullptr);
  ~CaptionTab() override;

  // Loads a run folder or checkpoint off the GUI thread; modelLoaded() follows (and
  // errorOccurred when it cannot be used, the previous model staying).
  void loadModel(const QString& path);
  bool hasModel() const { return has_model_; }
  bool isBusy() const { return pending_ > 0; }
  // The notice shown when the current image is unlike the model's training images.
  QString unfamiliarNotice() const;
  QString modelPath() const { return model_path_; }
  // Adds images (local files) and captions the last one (off the GUI thread; captioned()
  // follows). Returns how many were added.
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
  // Captions the current image again (a sampled decoding draws anew); captioned() follows.
  void recaption();
  QStringList captionTexts() const;  // as shown: punctuation attached ("a, b" not "a , b")
  static QString readable(const std::string& text);
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
  void modelLoaded(const QString& path, bool ok);
  // To the captioning thread.
  void requestModel(const QString& path);
  void requestCaption(const captioner::ui::CaptionJob& job);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void buildLayout();
  void startWorker();
  void setBusy(int delta);
  void showImage(const QString& path);
  void onModelLoaded(const ModelOutcome& outcome);
  void onCaptioned(const CaptionOutcome& outcome);
  void showResults();
  void showWord();
  std::vector<CaptionWord> shownWords() const;
  QString note() const;

  QThread* thread_;
  CaptionWorker* worker_;
  quint64 generation_ = 0;  // of the latest caption request
  bool waiting_ = false;    // for the latest request's captions
  int pending_ = 0;         // requests the busy bar waits for
  bool has_model_ = false;
  bool attends_ = false;
  QString model_summary_;
  QString model_path_;
  QString image_path_;
  QImage image_;
  std::vector<CaptionResult> results_;
  int caption_ = 0;
  int word_ = 0;
  quint64 next_seed_;

  QLabel* model_label_;
  QProgressBar* busy_;
  QLabel* unfamiliar_;
  ImageList* images_;
  DecodingControls* decoding_;
  QListWidget* captions_;
  WordBar* words_;
  HeatmapView* heatmap_;
};

}  // namespace captioner::ui
