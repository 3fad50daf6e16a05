#include "ui/decoding_controls.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QSlider>
#include <QSpinBox>

#include <cmath>

namespace captioner::ui {

DecodingControls::DecodingControls(QWidget* parent) : QWidget(parent) {
  mode_ = new QComboBox(this);
  mode_->addItem(tr("Greedy"), QStringLiteral("greedy"));
  mode_->addItem(tr("Sample"), QStringLiteral("sample"));
  mode_->addItem(tr("Beam search"), QStringLiteral("beam"));
  mode_->setToolTip(
      tr("Greedy: the likeliest word each step. Sample: draw words at a temperature. Beam: keep the best hypotheses."));
  temperature_slider_ = new QSlider(Qt::Horizontal, this);
  temperature_slider_->setRange(5, 300);
  temperature_slider_->setValue(100);
  temperature_slider_->setAccessibleName(tr("Temperature"));
  temperature_ = new QDoubleSpinBox(this);
  temperature_->setRange(0.05, 3.0);
  temperature_->setSingleStep(0.05);
  temperature_->setValue(1.0);
  temperature_->setToolTip(tr("Sampling temperature: low is safe and repetitive, high is varied and wild"));
  beam_ = new QSpinBox(this);
  beam_->setRange(1, 20);
  beam_->setValue(3);
  beam_->setToolTip(tr("Beam width"));
  samples_ = new QSpinBox(this);
  samples_->setRange(1, 20);
  samples_->setValue(3);
  samples_->setToolTip(tr("Captions drawn when sampling"));
  // The slider and the box show one value; only sampling reads the temperature.
  connect(temperature_slider_, &QSlider::valueChanged, this, [this](int v) {
    if (std::lround(temperature_->value() * 100) != v) temperature_->setValue(v / 100.0);
  });
  connect(temperature_, &QDoubleSpinBox::valueChanged, this, [this](double t) {
    const int v = static_cast<int>(std::lround(t * 100));
    if (temperature_slider_->value() != v) temperature_slider_->setValue(v);
    if (mode_->currentData().toString() == QLatin1String("sample")) Q_EMIT changed();
  });
  connect(mode_, &QComboBox::currentIndexChanged, this, &DecodingControls::enableForMode);
  connect(mode_, &QComboBox::currentIndexChanged, this, &DecodingControls::changed);
  connect(beam_, &QSpinBox::valueChanged, this, &DecodingControls::changed);
  connect(samples_, &QSpinBox::valueChanged, this, &DecodingControls::changed);

  auto* form = new QFormLayout(this);
  form->setContentsMargins(0, 0, 0, 0);
  form->addRow(tr("Decoding"), mode_);
  auto* t_row = new QHBoxLayout;
  t_row->addWidget(temperature_slider_, 1);
  t_row->addWidget(temperature_);
  form->addRow(tr("Temperature"), t_row);
  form->addRow(tr("Beam width"), beam_);
  form->addRow(tr("Samples"), samples_);
  temperature_->setObjectName(QStringLiteral("temperature"));
  temperature_slider_->setObjectName(QStringLiteral("temperatureSlider"));
  beam_->setObjectName(QStringLiteral("beamWidth"));
  samples_->setObjectName(QStringLiteral("samples"));
  enableForMode();
}

// Only the settings the chosen mode reads can be changed: greedy reads none of them.
void DecodingControls::enableForMode() {
  const QString mode = mode_->currentData().toString();
  const bool sample = mode == QLatin1String("sample");
  temperature_slider_->setEnabled(sample);
  temperature_->setEnabled(sample);
  samples_->setEnabled(sample);
  beam_->setEnabled(mode == QLatin1String("beam"));
}

DecodeOptions DecodingControls::options() const {
  DecodeOptions r;
  r.mode = parse_mode(mode_->currentData().toString().toStdString());
  r.temperature = temperature_->value();
  r.beam_width = beam_->value();
  r.samples = samples_->value();
  return r;
}

void DecodingControls::setMode(const QString& mode) {
  const int i = mode_->findData(mode);
  if (i >= 0) mode_->setCurrentIndex(i);
}

void DecodingControls::setTemperature(double t) { temperature_->setValue(t); }
double DecodingControls::temperature() const { return temperature_->value(); }

SettingsTable DecodingControls::settings() const {
  return {{QStringLiteral("mode"), mode_},
          {QStringLiteral("temperature"), temperature_},
          {QStringLiteral("beam"), beam_},
          {QStringLiteral("samples"), samples_}};
}

}  // namespace captioner::ui
