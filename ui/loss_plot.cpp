#include "ui/loss_plot.h"

#include "ui/qcustomplot_include.h"

#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>

#include "ui/train_worker.h"

namespace captioner::ui {

LossPlot::LossPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  setUpGraphs();
  setUpHover();
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(buildControls());
  layout->addWidget(plot_, 1);

  replot_timer_ = new QTimer(this);
  replot_timer_->setSingleShot(true);
  replot_timer_->setInterval(40);
  connect(replot_timer_, &QTimer::timeout, this, [this] {
    if (!dirty_) return;
    dirty_ = false;
    if (!user_zoomed_) {
      plot_->rescaleAxes();
      plot_->yAxis->scaleRange(1.05, plot_->yAxis->range().center());
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
  });
}

void LossPlot::setUpGraphs() {
  plot_->setNotAntialiasedElements(QCP::aeAll);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->legend->setVisible(true);
  plot_->xAxis->setLabel(tr("step"));
  plot_->yAxis->setLabel(tr("loss (cross-entropy per word)"));

  raw_ = plot_->addGraph();
  raw_->setName(tr("train (raw)"));
  raw_->setPen(QPen(QColor(70, 130, 180, 60), 1));
  raw_->setAdaptiveSampling(true);
  smooth_ = plot_->addGraph();
  smooth_->setName(tr("train (smoothed)"));
  smooth_->setPen(QPen(QColor(30, 90, 160), 2));
  smooth_->setAdaptiveSampling(true);
  val_graph_ = plot_->addGraph();
  val_graph_->setName(tr("validation"));
  val_graph_->setPen(QPen(QColor(220, 110, 20), 2));
  val_graph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
}

void LossPlot::setUpHover() {
  // The tracer and its readout live on their own layer so hovering replots only that layer.
  plot_->addLayer(QStringLiteral("hover"), nullptr, QCustomPlot::limAbove);
  plot_->layer(QStringLiteral("hover"))->setMode(QCPLayer::lmBuffered);
  tracer_ = new QCPItemTracer(plot_);
  tracer_->setLayer(QStringLiteral("hover"));
  tracer_->setStyle(QCPItemTracer::tsCircle);
  tracer_->setSize(8);
  tracer_->setVisible(false);
  readout_ = new QCPItemText(plot_);
  readout_->setLayer(QStringLiteral("hover"));
  readout_->setPositionAlignment(Qt::AlignTop | Qt::AlignRight);
  readout_->position->setType(QCPItemPosition::ptAxisRectRatio);
  readout_->position->setCoords(0.98, 0.02);
  readout_->setVisible(false);
  connect(plot_, &QCustomPlot::mouseMove, this, &LossPlot::onMouseMove);
  connect(plot_, &QCustomPlot::mouseWheel, this, [this] { user_zoomed_ = true; });
  connect(plot_, &QCustomPlot::mousePress, this, [this] { user_zoomed_ = true; });
}

QHBoxLayout* LossPlot::buildControls() {
  log_y_ = new QCheckBox(tr("Log scale"), this);
  log_y_->setToolTip(tr("Logarithmic loss axis"));
  connect(log_y_, &QCheckBox::toggled, this, &LossPlot::setLogY);
  x_axis_ = new QComboBox(this);
  x_axis_->addItems({tr("x: step"), tr("x: elapsed time (s)")});
  x_axis_->setAccessibleName(tr("Horizontal axis"));
  connect(x_axis_, &QComboBox::currentIndexChanged, this, [this](int i) { setTimeAxis(i == 1); });
  smoothing_ = new QSlider(Qt::Horizontal, this);
  smoothing_->setRange(0, 999);
  smoothing_->setValue(900);
  smoothing_->setToolTip(tr("Smoothing of the training curve (exponential moving average)"));
  smoothing_->setAccessibleName(tr("Smoothing"));
  connect(smoothing_, &QSlider::valueChanged, this, [this] { rebuild(); });
  auto* reset = new QPushButton(tr("Reset view"), this);
  reset->setToolTip(tr("Fit the axes to the data again"));
  connect(reset, &QPushButton::clicked, this, [this] {
    user_zoomed_ = false;
    rebuild();
  });

  auto* controls = new QHBoxLayout;
  controls->addWidget(x_axis_);
  controls->addWidget(log_y_);
  controls->addWidget(new QLabel(tr("Smoothing"), this));
  controls->addWidget(smoothing_, 1);
  controls->addWidget(reset);
  return controls;
}

double LossPlot::smoothing() const { return smoothing_->value() / 1000.0; }
void LossPlot::setSmoothing(double value) { smoothing_->setValue(static_cast<int>(std::lround(value * 1000))); }

void LossPlot::setLogY(bool on) {
  if (log_y_->isChecked() != on) log_y_->setChecked(on);
  plot_->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (on) plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  else plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  scheduleReplot();
}

void LossPlot::setTimeAxis(bool on) {
  if (x_axis_->currentIndex() != (on ? 1 : 0)) x_axis_->setCurrentIndex(on ? 1 : 0);
  plot_->xAxis->setLabel(on ? tr("elapsed time (s)") : tr("step"));
  rebuild();
}

void LossPlot::append(const QVector<TrainPoint>& points) {
  const bool time = x_axis_->currentIndex() == 1;
  const double a = smoothing();
  QVector<double> xs, raw, smooth, vx, vy;
  for (const auto& p : points) {
    ema_ = a * ema_ + (1 - a) * p.train_loss;
    decay_ *= a;
    history_.rows.push_back({p.step, p.train_loss, p.val_loss, p.captions_per_s, p.lr, p.elapsed_s});
    steps_ << static_cast<double>(p.step);
    times_ << p.elapsed_s;
    train_ << p.train_loss;
    const double x = time ? p.elapsed_s : static_cast<double>(p.step);
    xs << x;
    raw << p.train_loss;
    smooth << (decay_ < 1 ? ema_ / (1 - decay_) : p.train_loss);
    if (!std::isnan(p.val_loss)) {
      val_steps_ << static_cast<double>(p.step);
      val_times_ << p.elapsed_s;
      val_ << p.val_loss;
      vx << x;
      vy << p.val_loss;
    }
  }
  raw_->addData(xs, raw, true);
  smooth_->addData(xs, smooth, true);
  if (!vx.isEmpty()) val_graph_->addData(vx, vy, true);
  scheduleReplot();
}

void LossPlot::rebuild() {
  const bool time = x_axis_->currentIndex() == 1;
  const double a = smoothing();
  QVector<double> smooth;
  smooth.reserve(train_.size());
  double ema = 0, decay = 1;
  for (int i = 0; i < train_.size(); ++i) {
    ema = a * ema + (1 - a) * train_[i];
    decay *= a;
    smooth << (decay < 1 ? ema / (1 - decay) : train_[i]);
  }
  ema_ = ema;
  decay_ = decay;
  const QVector<double>& xs = time ? times_ : steps_;
  raw_->setData(xs, train_, true);
  smooth_->setData(xs, smooth, true);
  val_graph_->setData(time ? val_times_ : val_steps_, val_, true);
  scheduleReplot();
}

void LossPlot::clear() {
  tracer_->setGraph(nullptr);
  tracer_->setVisible(false);
  readout_->setVisible(false);
  history_.rows.clear();
  steps_.clear();
  times_.clear();
  train_.clear();
  val_steps_.clear();
  val_times_.clear();
  val_.clear();
  ema_ = 0;
  user_zoomed_ = false;
  rebuild();
}

int LossPlot::trainPointCount() const { return train_.size(); }
int LossPlot::valPointCount() const { return val_.size(); }

void LossPlot::scheduleReplot() {
  dirty_ = true;
  if (!replot_timer_->isActive()) replot_timer_->start();
}

double LossPlot::redrawNow() {
  QElapsedTimer clock;
  clock.start();
  rebuild();
  plot_->rescaleAxes();
  plot_->replot(QCustomPlot::rpImmediateRefresh);
  dirty_ = false;
  return static_cast<double>(clock.nsecsElapsed()) / 1e6;
}

void LossPlot::onMouseMove(QMouseEvent* event) {
  if (smooth_->dataCount() == 0) return;
  const double x = plot_->xAxis->pixelToCoord(event->position().x());
  tracer_->setGraph(smooth_);  // attached only while hovering a graph with data
  tracer_->setGraphKey(x);
  tracer_->updatePosition();
  const double key = tracer_->position->key();
  auto it = raw_->data()->findBegin(key);
  const double raw = it != raw_->data()->constEnd() ? it->value : std::nan("");
  QString text = tr("%1 %2\ntrain %3 (smoothed %4)")
                     .arg(x_axis_->currentIndex() == 1 ? tr("time") : tr("step"))
                     .arg(key, 0, 'f', x_axis_->currentIndex() == 1 ? 1 : 0)
                     .arg(raw, 0, 'f', 4)
                     .arg(tracer_->position->value(), 0, 'f', 4);
  tracer_->setVisible(true);
  readout_->setText(text);
  readout_->setVisible(true);
  plot_->layer(QStringLiteral("hover"))->replot();
}

bool LossPlot::exportCsv(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
  const std::string csv = history_.to_csv();
  return file.write(csv.data(), static_cast<qint64>(csv.size())) == static_cast<qint64>(csv.size());
}

bool LossPlot::exportPng(const QString& path) { return plot_->savePng(path, 0, 0, 1.0); }

}  // namespace captioner::ui
