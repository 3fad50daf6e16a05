#pragma once
// Live train/validation loss curves on QCustomPlot: raw training loss (faint), its exponential
// moving average (slider-controlled), validation loss as points and line; x as step or elapsed
// time; log-y; hover readout with a tracer; drag/zoom and reset; CSV and PNG export. Points are
// appended as they arrive; redraws are coalesced on a timer so 100,000 points stay fluid.
#include <QVector>
#include <QWidget>

#include "core/train/history.h"

class QCustomPlot;
class QCPGraph;
class QCPItemTracer;
class QCPItemText;
class QCheckBox;
class QHBoxLayout;
class QComboBox;
class QSlider;
class QLabel;
class QTimer;

namespace captioner::ui {

struct TrainPoint;

class LossPlot : public QWidget {
  Q_OBJECT
 public:
  explicit LossPlot(QWidget* parent = nullptr);
  void append(const QVector<TrainPoint>& points);
  void clear();
  int trainPointCount() const;
  int valPointCount() const;
  bool exportCsv(const QString& path) const;
  bool exportPng(const QString& path);
  double smoothing() const;  // EMA factor in [0, 0.999]
  void setSmoothing(double value);
  void setLogY(bool on);
  void setTimeAxis(bool on);
  // Rebuilds every graph from the stored points and replots now; returns the milliseconds spent.
  double redrawNow();
  QCustomPlot* plot() const { return plot_; }

 private:
  void setUpGraphs();
  void setUpHover();
  QHBoxLayout* buildControls();
  void rebuild();
  void scheduleReplot();
  void onMouseMove(QMouseEvent* event);

  QCustomPlot* plot_;
  QCPGraph* raw_;
  QCPGraph* smooth_;
  QCPGraph* val_graph_;
  QCPItemTracer* tracer_;
  QCPItemText* readout_;
  QCheckBox* log_y_;
  QComboBox* x_axis_;
  QSlider* smoothing_;
  QTimer* replot_timer_;
  QVector<double> steps_, times_, train_, val_steps_, val_times_, val_;
  History history_;  // every point received, for the CSV export (the run's history.csv format)
  double ema_ = 0;   // biased moving average; shown divided by (1 - a^n), as TensorBoard does,
  double decay_ = 1; // so the first points are not dragged towards zero or the first loss
  bool dirty_ = false;
  bool user_zoomed_ = false;
};

}  // namespace captioner::ui
