#pragma once
// The Caption tab's thread: a worker object on a QThread that owns the CaptionService, so that
// loading a model, decoding an image, encoding it and decoding captions never run on the GUI
// thread. Requests arrive and results leave through queued signals; a caption request that a
// newer one has replaced is skipped. No LibTorch in this header.
#include <QImage>
#include <QObject>
#include <QString>

#include <atomic>
#include <memory>
#include <vector>

#include "core/infer/caption_service.h"

namespace captioner::ui {

struct CaptionJob {
  quint64 generation = 0;
  QString image_path;
  DecodeOptions decoding;
};

struct CaptionOutcome {
  quint64 generation = 0;
  QString image_path;
  QImage image;  // as shown: EXIF orientation applied, transparency over white
  std::vector<CaptionResult> results;
  ImageFamiliarity familiarity;  // how it compares with the model's training images
  QString error;
};

struct ModelOutcome {
  QString path;
  bool ok = false;
  QString summary;  // CaptionService::model_summary
  bool attends = false;
  QString error;
};

// The picture as the Caption tab shows it: EXIF orientation applied (as the model's decoder
// does) and any transparency laid over white. Null when the file cannot be read.
QImage load_display_image(const QString& path);

class CaptionWorker : public QObject {
  Q_OBJECT
 public:
  explicit CaptionWorker(QObject* parent = nullptr);
  ~CaptionWorker() override;
  // Thread-safe: requests older than this are skipped when their turn comes.
  void supersede(quint64 generation) { latest_ = generation; }

 public Q_SLOTS:
  void loadModel(const QString& path);
  void caption(const captioner::ui::CaptionJob& job);

 Q_SIGNALS:
  void modelLoaded(const captioner::ui::ModelOutcome& outcome);
  void captioned(const captioner::ui::CaptionOutcome& outcome);

 private:
  std::unique_ptr<CaptionService> service_;
  QString shown_path_;  // the last image decoded for display, kept for re-decoding
  QImage shown_;
  std::atomic<quint64> latest_{0};
};

}  // namespace captioner::ui

Q_DECLARE_METATYPE(captioner::ui::CaptionJob)
Q_DECLARE_METATYPE(captioner::ui::CaptionOutcome)
Q_DECLARE_METATYPE(captioner::ui::ModelOutcome)
