#include "ui/caption_worker.h"

#include <QImageReader>
#include <QPainter>

namespace captioner::ui {

QImage load_display_image(const QString& path) {
  QImageReader reader(path);
  reader.setAutoTransform(true);
  QImage image = reader.read();
  if (image.isNull() || !image.hasAlphaChannel()) return image;
  QImage flat(image.size(), QImage::Format_RGB32);
  flat.fill(Qt::white);
  QPainter painter(&flat);
  painter.drawImage(0, 0, image);
  return flat;
}

CaptionWorker::CaptionWorker(QObject* parent) : QObject(parent), service_(std::make_unique<CaptionService>()) {}
CaptionWorker::~CaptionWorker() = default;

void CaptionWorker::loadModel(const QString& path) {
  ModelOutcome out;
  out.path = path;
  try {
    service_->load_model(path.toStdString());
    out.ok = true;
    out.summary = QString::fromStdString(service_->model_summary());
    out.attends = service_->model_attends();
  } catch (const std::exception& e) {
    out.error = QString::fromStdString(e.what());
  }
  Q_EMIT modelLoaded(out);
}

void CaptionWorker::caption(const CaptionJob& job) {
  if (job.generation < latest_.load()) return;  // replaced by a newer request meanwhile
  CaptionOutcome out;
  out.generation = job.generation;
  out.image_path = job.image_path;
  if (job.image_path != shown_path_) {
    shown_path_ = job.image_path;
    shown_ = load_display_image(job.image_path);
  }
  out.image = shown_;
  try {
    if (service_->has_model()) {
      out.results = service_->caption(job.image_path.toStdString(), job.decoding);
      out.familiarity = service_->familiarity(job.image_path.toStdString());
    }
  } catch (const std::exception& e) {
    out.error = QString::fromStdString(e.what());
  }
  Q_EMIT captioned(out);
}

}  // namespace captioner::ui
