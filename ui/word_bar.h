#pragma once
// A caption's words as buttons, each with its probability; one is selected.
#include <QScrollArea>

#include <vector>

#include "core/infer/caption_service.h"

class QHBoxLayout;

namespace captioner::ui {

class WordBar : public QScrollArea {
  Q_OBJECT
 public:
  explicit WordBar(QWidget* parent = nullptr);
  void setWords(const std::vector<CaptionWord>& words);
  void setSelected(int index);

 Q_SIGNALS:
  void wordClicked(int index);

 private:
  QWidget* box_;
  QHBoxLayout* layout_;
};

}  // namespace captioner::ui
