#pragma once
// Where the desktop app caches the features of a dataset whose images live in a folder of their
// own (a COCO or Karpathy file with File ▸ Open dataset's image folder): one cache per image folder
// and layer in the app's data folder, so every run and evaluation on those images shares it
// instead of extracting them again into each run folder. The user's image folder is never written.
#include <QCryptographicHash>
#include <QDir>
#include <QStandardPaths>
#include <QString>

namespace captioner::ui {

// The folder that holds the caches of `image_dir`'s images, one per layer (the core names them:
// TrainRequest::cache_parent, RunEvalRequest::cache_parent).
inline QString shared_feature_cache_parent(const QString& image_dir) {
  const QByteArray key = QDir(image_dir).absolutePath().toUtf8();
  const QString id = QString::fromLatin1(QCryptographicHash::hash(key, QCryptographicHash::Sha1).toHex().left(16));
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/feature-cache/") + id;
}

}  // namespace captioner::ui
