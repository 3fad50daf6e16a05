#include "ui/recent_files.h"

#include <QFileInfo>
#include <QSettings>
#include <QVariantMap>

namespace captioner::ui {

namespace {

QString key(RecentFiles::Kind kind) {
  switch (kind) {
    case RecentFiles::Kind::Model:
      return QStringLiteral("recent/models");
    case RecentFiles::Kind::Dataset:
      return QStringLiteral("recent/datasets");
    case RecentFiles::Kind::Images:
      break;
  }
  return QStringLiteral("recent/images");
}

const QString kImageDirs = QStringLiteral("recent/dataset_image_dirs");

}  // namespace

void RecentFiles::add(Kind kind, const QString& path, const QString& image_dir) {
  const QString absolute = QFileInfo(path).absoluteFilePath();
  QSettings s;
  QStringList paths = s.value(key(kind)).toStringList();
  paths.removeAll(absolute);
  paths.prepend(absolute);
  while (paths.size() > kMax) paths.removeLast();
  s.setValue(key(kind), paths);
  if (kind != Kind::Dataset) return;
  QVariantMap dirs = s.value(kImageDirs).toMap();
  for (auto it = dirs.begin(); it != dirs.end();) it = paths.contains(it.key()) ? std::next(it) : dirs.erase(it);
  if (image_dir.isEmpty()) {
    dirs.remove(absolute);
  } else {
    dirs.insert(absolute, image_dir);
  }
  s.setValue(kImageDirs, dirs);
}

QStringList RecentFiles::list(Kind kind) {
  QStringList out;
  for (const QString& path : QSettings().value(key(kind)).toStringList())
    if (QFileInfo::exists(path)) out << path;
  return out;
}

QString RecentFiles::imageDir(const QString& dataset) {
  return QSettings().value(kImageDirs).toMap().value(QFileInfo(dataset).absoluteFilePath()).toString();
}

void RecentFiles::clear() {
  QSettings s;
  for (Kind kind : {Kind::Model, Kind::Dataset, Kind::Images}) s.remove(key(kind));
  s.remove(kImageDirs);
}

}  // namespace captioner::ui
