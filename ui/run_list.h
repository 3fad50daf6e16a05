#pragma once
// The runs folder as a list, newest first: name, model kind, layer, key settings, best
// validation loss, status and the latest evaluation's scores. Checked runs are drawn in the loss
// plot beside the live one (their histories are read off the GUI thread); a table below compares
// the checked runs' settings and highlights what differs. Buttons evaluate the selected run,
// show its evaluation report and continue training it.
#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

#include "core/run/history.h"
#include "core/run/run_summary.h"

class QLabel;
class QPushButton;
class QTableWidget;
class QTreeWidget;
class QSplitter;
class QTreeWidgetItem;

namespace captioner::ui {

class RunList : public QWidget {
  Q_OBJECT
 public:
  explicit RunList(QWidget* parent = nullptr);
  void setRunsDir(const QString& dir);
  QString runsDir() const { return runs_dir_; }
  // Reads the folder again (off the GUI thread); listed() follows.
  void refresh();
  int runCount() const;
  QString runDir(int row) const;
  const RunSummary* summary(const QString& dir) const;  // null when not listed
  void setChecked(const QString& dir, bool checked);
  QStringList checkedRuns() const;
  void select(const QString& dir);
  QString selectedRun() const;
  // Colours the check box cell of a run with the colour its curves are drawn in.
  void setRunColor(const QString& dir, const QColor& color);
  // Runs busy elsewhere (the live run) cannot be continued or evaluated meanwhile.
  void setBusyRun(const QString& dir);
  QTableWidget* comparison() const { return compare_; }

  // The short label a run is shown under ("20261130-041855 · attention").
  static QString label(const RunSummary& run);

 Q_SIGNALS:
  void listed(int runs);
  void runShown(const QString& dir, const QString& label, const captioner::History& history);
  void runHidden(const QString& dir);
  void evaluateRequested(const QString& dir);
  void reportRequested(const QString& dir);
  void continueRequested(const QString& dir);
  void errorOccurred(const QString& text);

 protected:
  void showEvent(QShowEvent* event) override;

 private:
  void show(const RunListing& listing);
  void onItemChanged(QTreeWidgetItem* item, int column);
  void updateComparison();
  // Gives the comparison the width its columns need (at most three fifths of the list's).
  void fitComparison();
  void updateButtons();

  QString runs_dir_;
  QString busy_run_;
  std::vector<RunSummary> runs_;
  QTreeWidget* tree_;
  QTableWidget* compare_;
  QSplitter* split_;
  QLabel* note_;
  QPushButton* evaluate_;
  QPushButton* report_;
  QPushButton* continue_;
  int generation_ = 0;
  bool filling_ = false;
};

}  // namespace captioner::ui

Q_DECLARE_METATYPE(captioner::History)
