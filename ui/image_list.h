#pragma once
// The Caption tab's strip of image thumbnails: the images added, one selected.
#include <QListWidget>
#include <QStringList>

namespace captioner::ui {

class ImageList : public QListWidget {
  Q_OBJECT
 public:
  explicit ImageList(QWidget* parent = nullptr);
  // Adds the readable images and selects the last one added; says why for the others.
  int addImages(const QStringList& paths);
  QString current() const;  // empty when none is selected

 Q_SIGNALS:
  void imageChosen(const QString& path);
  void errorOccurred(const QString& text);

 private:
  QStringList paths_;
};

}  // namespace captioner::ui
