#include "ui/settings_table.h"

#include <QAbstractSlider>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QSpinBox>

#include <stdexcept>
#include <string>

namespace captioner::ui {

namespace {

QVariant value_of(const QWidget* w) {
  if (const auto* s = qobject_cast<const QSpinBox*>(w)) return s->value();
  if (const auto* d = qobject_cast<const QDoubleSpinBox*>(w)) return d->value();
  if (const auto* c = qobject_cast<const QComboBox*>(w)) return c->currentIndex();
  if (const auto* b = qobject_cast<const QCheckBox*>(w)) return b->isChecked();
  if (const auto* a = qobject_cast<const QAbstractSlider*>(w)) return a->value();
  throw std::logic_error(std::string("settings table: unsupported widget ") + w->metaObject()->className());
}

void set_value(QWidget* w, const QVariant& v) {
  if (auto* s = qobject_cast<QSpinBox*>(w))
    s->setValue(v.toInt());
  else if (auto* d = qobject_cast<QDoubleSpinBox*>(w))
    d->setValue(v.toDouble());
  else if (auto* c = qobject_cast<QComboBox*>(w)) {
    if (v.toInt() >= 0 && v.toInt() < c->count()) c->setCurrentIndex(v.toInt());
  } else if (auto* b = qobject_cast<QCheckBox*>(w))
    b->setChecked(v.toBool());
  else if (auto* a = qobject_cast<QAbstractSlider*>(w))
    a->setValue(v.toInt());
  else
    throw std::logic_error(std::string("settings table: unsupported widget ") + w->metaObject()->className());
}

}  // namespace

void save_settings(QSettings& settings, const SettingsTable& table) {
  for (const auto& row : table) settings.setValue(row.key, value_of(row.widget));
}

void load_settings(const QSettings& settings, const SettingsTable& table) {
  for (const auto& row : table)
    if (settings.contains(row.key)) set_value(row.widget, settings.value(row.key));
}

}  // namespace captioner::ui
