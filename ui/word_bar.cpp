#include "ui/word_bar.h"

#include <QHBoxLayout>
#include <QPushButton>

#include <cmath>

namespace captioner::ui {

WordBar::WordBar(QWidget* parent) : QScrollArea(parent) {
  box_ = new QWidget(this);
  layout_ = new QHBoxLayout(box_);
  layout_->setContentsMargins(0, 0, 0, 0);
  setWidget(box_);
  setWidgetResizable(true);
  // Two lines of button text (the word, its probability) and the scroll bar, in this font.
  setFixedHeight(2 * fontMetrics().height() + 34);
}

void WordBar::setWords(const std::vector<CaptionWord>& words) {
  while (auto* item = layout_->takeAt(0)) {
    delete item->widget();
    delete item;
  }
  for (size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    auto* b = new QPushButton(
        QStringLiteral("%1\n%2%").arg(QString::fromStdString(w.word)).arg(std::exp(w.log_prob) * 100, 0, 'f', 0), box_);
    b->setCheckable(true);
    b->setToolTip(tr("p = %1").arg(std::exp(w.log_prob), 0, 'f', 3));
    connect(b, &QPushButton::clicked, this, [this, i] { Q_EMIT wordClicked(static_cast<int>(i)); });
    layout_->addWidget(b);
  }
  layout_->addStretch(1);
}

void WordBar::setSelected(int index) {
  for (int i = 0; i < layout_->count(); ++i)
    if (auto* b = qobject_cast<QPushButton*>(layout_->itemAt(i)->widget())) {
      b->setChecked(i == index);
      if (i == index) ensureWidgetVisible(b);  // while playing, the current word stays in view
    }
}

}  // namespace captioner::ui
