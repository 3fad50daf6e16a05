#include "ui/image_list.h"

#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QPixmap>

namespace captioner::ui {

ImageList::ImageList(QWidget* parent) : QListWidget(parent) {
  setViewMode(QListView::IconMode);
  setFlow(QListView::LeftToRight);
  setIconSize(QSize(72, 72));
  setFixedHeight(110);
  setToolTip(tr("Drop images here, paste one (Ctrl+V), or use File ▸ Open images"));
  connect(this, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row >= 0 && row < paths_.size()) Q_EMIT imageChosen(paths_[row]);
  });
}

int ImageList::addImages(const QStringList& paths) {
  int added = 0;
  for (const QString& path : paths) {
    QImage thumb(path);
    if (thumb.isNull()) {
      Q_EMIT errorOccurred(tr("%1: not an image this application can read").arg(QDir::toNativeSeparators(path)));
      continue;
    }
    paths_ << path;
    auto* item =
        new QListWidgetItem(QIcon(QPixmap::fromImage(thumb.scaled(72, 72, Qt::KeepAspectRatio, Qt::SmoothTransformation))),
                            QFileInfo(path).fileName());
    item->setToolTip(path);
    addItem(item);
    ++added;
  }
  if (added > 0) setCurrentRow(static_cast<int>(paths_.size()) - 1);
  return added;
}

QString ImageList::current() const {
  const int row = currentRow();
  return row >= 0 && row < paths_.size() ? paths_[row] : QString();
}

}  // namespace captioner::ui
