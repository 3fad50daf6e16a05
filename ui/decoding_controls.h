#pragma once
// How the Caption tab decodes: greedy, sampled at a temperature (how many samples) or beam search
// (how wide). Says when a choice changes what a caption would be.
#include <QWidget>

#include "core/infer/caption_service.h"
#include "ui/settings_table.h"

class QComboBox;
class QDoubleSpinBox;
class QSlider;
class QSpinBox;

namespace captioner::ui {

class DecodingControls : public QWidget {
  Q_OBJECT
 public:
  explicit DecodingControls(QWidget* parent = nullptr);
  // The options the controls describe (mode, temperature, beam width, samples), the rest at their
  // defaults; the caller sets the seed.
  DecodeOptions options() const;
  void setMode(const QString& mode);  // greedy | sample | beam
  void setTemperature(double t);
  double temperature() const;
  SettingsTable settings() const;

 Q_SIGNALS:
  void changed();

 private:
  void enableForMode();
  QComboBox* mode_;
  QSlider* temperature_slider_;
  QDoubleSpinBox* temperature_;
  QSpinBox* beam_;
  QSpinBox* samples_;
};

}  // namespace captioner::ui
