#pragma once
// A panel's persisted settings as one table: each row a QSettings key and the widget that holds
// the value (spin boxes, combo boxes by index, check boxes, sliders). Saving and restoring walk
// the same table, so a setting cannot be saved under one name and read under another.
#include <QSettings>
#include <QString>
#include <QWidget>

#include <vector>

namespace captioner::ui {

struct SettingRow {
  QString key;
  QWidget* widget;
};
using SettingsTable = std::vector<SettingRow>;

void save_settings(QSettings& settings, const SettingsTable& table);
// Rows without a stored value keep the widget's value (its default).
void load_settings(const QSettings& settings, const SettingsTable& table);

}  // namespace captioner::ui
