#pragma once
// The Training tab's form: model kind, encoder layer and hyper-parameters, with their defaults.
// It fills a TrainConfig; what it shows is locked while a run is active.
#include <QGroupBox>
#include <QString>

#include "core/model/config.h"
#include "core/train/recipe.h"
#include "ui/settings_table.h"

class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QSpinBox;

namespace captioner::ui {

class TrainingForm : public QGroupBox {
  Q_OBJECT
 public:
  explicit TrainingForm(QWidget* parent = nullptr);
  // The model and training fields of `config` as the form says; the rest is left as it is.
  void fill(TrainConfig& config) const;
  QString layer() const;  // "auto" or GridLayer's name: "mixed10", "mixed5"
  int minCount() const;
  void setLocked(bool locked);
  SettingsTable settings() const;

 Q_SIGNALS:
  void layerChanged();
  void minCountChanged();

 private:
  void addModelFields(QFormLayout* form, const TrainConfig& defaults);
  void addTrainingFields(QFormLayout* form, const TrainConfig& defaults);
  const TrainPreset* currentPreset() const;  // null: Custom
  void applyPreset();
  // The preset whose steps, batch and cadence the form shows, or Custom.
  void showMatchingPreset();

  QComboBox* kind_;
  QComboBox* layer_;
  QComboBox* preset_;
  QSpinBox* hidden_;
  QSpinBox* embed_;
  QSpinBox* layers_;
  QDoubleSpinBox* dropout_;
  QSpinBox* batch_;
  QDoubleSpinBox* lr_;
  QSpinBox* max_len_;
  QSpinBox* min_count_;
  QSpinBox* val_every_;
  QSpinBox* steps_;
  QSpinBox* threads_;
  QComboBox* device_;
  QComboBox* precision_;
  bool locked_ = false;
  bool applying_preset_ = false;
};

}  // namespace captioner::ui
