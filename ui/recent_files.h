#pragma once
// The models, datasets and images opened lately (File > Open Recent), newest first, kept in the
// settings. Only what still exists is listed: a moved or deleted file drops out by itself.
#include <QString>
#include <QStringList>

namespace captioner::ui {

class RecentFiles {
 public:
  enum class Kind { Model, Dataset, Images };
  static constexpr int kMax = 8;  // per kind

  // Puts `path` first in its kind's list (once), with the images folder a dataset was opened with.
  static void add(Kind kind, const QString& path, const QString& image_dir = QString());
  static QStringList list(Kind kind);               // existing paths, newest first
  static QString imageDir(const QString& dataset);  // the folder `dataset` was last opened with
  static void clear();
};

}  // namespace captioner::ui
