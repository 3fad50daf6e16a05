#pragma once
// Training curves on QCustomPlot, for the live run and any saved runs beside it, each in its own
// colour: raw training value (faint), its exponential moving average (slider-controlled, the
// factor shown), validation loss as points and line. The chart shows the loss, the learning rate
// or the throughput; x is the step, the time since the run started or the wall-clock time;
// log-y; a readout under the plot gives every shown series at the hovered x and goes when the
// mouse leaves; drag/zoom and reset; CSV, PNG and SVG export. Live points are appended as they
// arrive; redraws are coalesced on a timer so 100,000 points stay fluid.
#include <QColor>
#include <QString>
#include <QVector>
#include <QWidget>

#include <vector>

#include "core/run/history.h"

class QCustomPlot;
class QCPGraph;
class QCPItemStraightLine;
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
  enum class XAxis { Step, Elapsed, WallClock };
  enum class Chart { Loss, LearningRate, Throughput };

  explicit LossPlot(QWidget* parent = nullptr);
  // The live run: append() adds to it; clear() empties it and names it `label` (saved runs shown
  // beside it stay).
  void append(const QVector<TrainPoint>& points);
  void clear(const QString& label = QString());
  // A saved run drawn beside the live one, keyed by its folder; setting a key again replaces it.
  void setRun(const QString& key, const QString& label, const History& history);
  void removeRun(const QString& key);
  QStringList runKeys() const;  // the saved runs shown
  int seriesCount() const { return static_cast<int>(series_.size()); }
  QColor seriesColor(const QString& key) const;  // invalid when not shown
  int trainPointCount() const;                   // of the live run
  int valPointCount() const;
  // Every shown series: run,step,wall_time,elapsed_s,train_raw,train_smoothed,val_loss,lr,captions_per_s.
  bool exportCsv(const QString& path) const;
  bool exportPng(const QString& path);
  bool exportSvg(const QString& path);
  double smoothing() const;  // EMA factor in [0, 0.999]
  void setSmoothing(double value);
  bool logY() const;
  void setLogY(bool on);
  void setTimeAxis(bool on);  // elapsed time (true) or step
  void setXAxis(XAxis axis);
  XAxis xAxis() const;
  void setChart(Chart chart);
  Chart chart() const;
  // What the hover readout says at plot x (the current axis' coordinate); empty off the data.
  QString readoutAt(double x) const;
  QString readoutText() const;  // as shown now; empty when hidden
  // Rebuilds every graph from the stored points and replots now; returns the milliseconds spent.
  double redrawNow();
  QCustomPlot* plot() const { return plot_; }

 Q_SIGNALS:
  void logYChanged(bool on);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  // The debiased moving average, as TensorBoard shows it: the biased average divided by
  // (1 - a^n), so the first points are not dragged towards zero or the first value.
  struct Smoother {
    double factor = 0;
    double ema = 0, decay = 1;
    double add(double value);  // the smoothed value after `value`
  };
  // What a run's rows add to its graphs on the current chart and axis.
  struct Curves {
    QVector<double> xs, raw, smooth, val_xs, val;
  };
  struct Series {
    QString key;  // empty for the live run
    QString label;
    QColor color;
    History history;
    QCPGraph* raw = nullptr;
    QCPGraph* smooth = nullptr;
    QCPGraph* val = nullptr;
    Smoother smoother;  // continued by append() for the live run
  };
  void setUpHover();
  QHBoxLayout* buildControls();
  Series& addSeries(const QString& key, const QString& label);
  QColor freeColor() const;
  void rebuild();
  void rebuildSeries(Series& s);
  void trace(const HistoryRow& row, Smoother& smoother, Curves& out) const;
  double xOf(const HistoryRow& row) const;
  double yOf(const HistoryRow& row) const;
  void labelSeries(Series& s);
  void scheduleReplot();
  void onMouseMove(QMouseEvent* event);
  void hideReadout();

  QCustomPlot* plot_;
  QCPItemStraightLine* cursor_;
  QLabel* readout_;
  QCheckBox* log_y_;
  QComboBox* x_axis_;
  QComboBox* chart_;
  QSlider* smoothing_;
  QLabel* smoothing_value_;
  QTimer* replot_timer_;
  std::vector<Series> series_;  // [0] is the live run
  bool dirty_ = false;
  bool user_zoomed_ = false;
};

}  // namespace captioner::ui
