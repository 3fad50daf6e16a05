#include "ui/loss_plot.h"

#include "ui/qcustomplot_include.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSvgGenerator>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "ui/train_worker.h"

namespace captioner::ui {

namespace {

// Distinct colours in the order runs are added (Tableau 10's first eight).
const QColor kPalette[] = {QColor(31, 119, 180),  QColor(255, 127, 14), QColor(44, 160, 44),   QColor(214, 39, 40),
                           QColor(148, 103, 189), QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127)};

}  // namespace

double LossPlot::Smoother::add(double value) {
  ema = factor * ema + (1 - factor) * value;
  decay *= factor;
  return decay < 1 ? ema / (1 - decay) : value;
}

// Ticks at 1, 2 and 5 times each power of ten on a log axis: a run's losses (0.2 to 3, say) span
// less than two decades, where a ticker that labels only powers of ten shows one label or none.
class LogTicker125 : public QCPAxisTicker {
 protected:
  QVector<double> createTickVector(double, const QCPRange& range) override {
    QVector<double> ticks;
    if (range.lower <= 0 || range.upper <= range.lower) return ticks;
    for (int e = static_cast<int>(std::floor(std::log10(range.lower))); e <= static_cast<int>(std::ceil(std::log10(range.upper)));
         ++e)
      for (double m : {1.0, 2.0, 5.0}) {
        const double t = m * std::pow(10.0, e);
        if (t >= range.lower && t <= range.upper) ticks << t;
      }
    return ticks;
  }
};

void LossPlot::trace(const HistoryRow& row, Smoother& smoother, Curves& out) const {
  const double x = xOf(row), y = yOf(row);
  // The learning rate is a schedule, not a noisy measurement: its steps are drawn as they are.
  const double smooth = chart() == Chart::LearningRate ? y : smoother.add(y);
  if (std::isnan(x)) return;  // wall-clock axis, a row from before wall times were kept
  out.xs << x;
  out.raw << y;
  out.smooth << smooth;
  if (chart() == Chart::Loss && !std::isnan(row.val_loss)) {
    out.val_xs << x;
    out.val << row.val_loss;
  }
}

LossPlot::LossPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  plot_->setNotAntialiasedElements(QCP::aeAll);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->legend->setVisible(true);
  QFont legend_font = font();
  legend_font.setPointSizeF(legend_font.pointSizeF() * 0.85);
  plot_->legend->setFont(legend_font);
  plot_->legend->setBrush(QColor(255, 255, 255, 210));  // the curves show through a little
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  plot_->xAxis->setLabel(tr("step"));
  plot_->yAxis->setLabel(tr("loss (cross-entropy per word)"));
  setUpHover();
  readout_ = new QLabel(this);
  readout_->setObjectName(QStringLiteral("hoverReadout"));
  readout_->setTextFormat(Qt::RichText);
  readout_->setWordWrap(true);
  readout_->setMinimumHeight(readout_->fontMetrics().height() * 2);
  readout_->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(buildControls());
  layout->addWidget(plot_, 1);
  layout->addWidget(readout_);
  addSeries(QString(), tr("this run"));

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

void LossPlot::setUpHover() {
  // The cursor line lives on its own layer so hovering replots only that layer.
  plot_->addLayer(QStringLiteral("hover"), nullptr, QCustomPlot::limAbove);
  plot_->layer(QStringLiteral("hover"))->setMode(QCPLayer::lmBuffered);
  cursor_ = new QCPItemStraightLine(plot_);
  cursor_->setLayer(QStringLiteral("hover"));
  cursor_->setPen(QPen(QColor(0, 0, 0, 90), 1, Qt::DashLine));
  cursor_->setVisible(false);
  plot_->setMouseTracking(true);
  plot_->installEventFilter(this);
  connect(plot_, &QCustomPlot::mouseMove, this, &LossPlot::onMouseMove);
  connect(plot_, &QCustomPlot::mouseWheel, this, [this] { user_zoomed_ = true; });
  connect(plot_, &QCustomPlot::mousePress, this, [this] { user_zoomed_ = true; });
}

QHBoxLayout* LossPlot::buildControls() {
  chart_ = new QComboBox(this);
  chart_->setObjectName(QStringLiteral("chart"));
  chart_->addItems({tr("Loss"), tr("Learning rate"), tr("Throughput (captions/s)")});
  chart_->setAccessibleName(tr("Chart"));
  connect(chart_, &QComboBox::currentIndexChanged, this, [this] {
    plot_->yAxis->setLabel(chart_->currentIndex() == 0   ? tr("loss (cross-entropy per word)")
                           : chart_->currentIndex() == 1 ? tr("learning rate")
                                                         : tr("captions per second"));
    user_zoomed_ = false;
    hideReadout();
    rebuild();
  });
  log_y_ = new QCheckBox(tr("Log scale"), this);
  log_y_->setObjectName(QStringLiteral("logScale"));
  log_y_->setToolTip(tr("Logarithmic vertical axis (also View ▸ Logarithmic loss axis)"));
  connect(log_y_, &QCheckBox::toggled, this, &LossPlot::setLogY);
  x_axis_ = new QComboBox(this);
  x_axis_->setObjectName(QStringLiteral("xAxis"));
  x_axis_->addItems({tr("x: step"), tr("x: time since start"), tr("x: wall-clock time")});
  x_axis_->setAccessibleName(tr("Horizontal axis"));
  connect(x_axis_, &QComboBox::currentIndexChanged, this, [this](int i) { setXAxis(static_cast<XAxis>(i)); });
  smoothing_ = new QSlider(Qt::Horizontal, this);
  smoothing_->setRange(0, 999);
  smoothing_->setValue(900);
  smoothing_->setToolTip(tr("Smoothing of the training curve (exponential moving average)"));
  smoothing_->setAccessibleName(tr("Smoothing"));
  smoothing_->setMinimumWidth(80);  // at the window's minimum size it kept shrinking to nothing
  smoothing_value_ = new QLabel(this);
  smoothing_value_->setObjectName(QStringLiteral("smoothingValue"));
  smoothing_value_->setMinimumWidth(smoothing_value_->fontMetrics().horizontalAdvance(QStringLiteral("0.999")));
  connect(smoothing_, &QSlider::valueChanged, this, [this] {
    smoothing_value_->setText(QString::number(smoothing(), 'f', 3));
    rebuild();
  });
  smoothing_value_->setText(QString::number(smoothing(), 'f', 3));
  auto* reset = new QPushButton(tr("Reset view"), this);
  reset->setToolTip(tr("Fit the axes to the data again"));
  connect(reset, &QPushButton::clicked, this, [this] {
    user_zoomed_ = false;
    rebuild();
  });

  auto* controls = new QHBoxLayout;
  controls->addWidget(chart_);
  controls->addWidget(x_axis_);
  controls->addWidget(log_y_);
  controls->addWidget(new QLabel(tr("Smoothing"), this));
  controls->addWidget(smoothing_, 1);
  controls->addWidget(smoothing_value_);
  controls->addWidget(reset);
  return controls;
}

LossPlot::Series& LossPlot::addSeries(const QString& key, const QString& label) {
  Series s;
  s.key = key;
  s.label = label;
  s.color = freeColor();
  s.smoother = Smoother{smoothing()};
  s.raw = plot_->addGraph();
  QColor faint = s.color;
  faint.setAlpha(60);
  s.raw->setPen(QPen(faint, 1));
  s.raw->setAdaptiveSampling(true);
  s.raw->removeFromLegend();
  s.smooth = plot_->addGraph();
  s.smooth->setPen(QPen(s.color, 2));
  s.smooth->setAdaptiveSampling(true);
  s.val = plot_->addGraph();
  s.val->setPen(QPen(s.color.darker(130), 2, Qt::DashLine));
  s.val->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
  series_.push_back(std::move(s));
  labelSeries(series_.back());
  return series_.back();
}

QColor LossPlot::freeColor() const {
  for (const QColor& c : kPalette) {
    const bool used = std::any_of(series_.begin(), series_.end(), [&](const Series& s) { return s.color == c; });
    if (!used) return c;
  }
  return kPalette[series_.size() % std::size(kPalette)];
}

void LossPlot::labelSeries(Series& s) {
  const bool loss = chart_ == nullptr || chart_->currentIndex() == 0;
  s.smooth->setName(loss ? tr("%1: train").arg(s.label) : s.label);
  s.val->setName(tr("%1: validation").arg(s.label));
  if (loss && !s.history.rows.empty())
    s.val->addToLegend();
  else
    s.val->removeFromLegend();
}

void LossPlot::setRun(const QString& key, const QString& label, const History& history) {
  auto it = std::find_if(series_.begin(), series_.end(), [&](const Series& s) { return s.key == key; });
  Series& s = it != series_.end() ? *it : addSeries(key, label);
  s.label = label;
  s.history = history;
  rebuildSeries(s);
  hideReadout();
  scheduleReplot();
}

void LossPlot::removeRun(const QString& key) {
  if (key.isEmpty()) return;  // the live run stays
  auto it = std::find_if(series_.begin(), series_.end(), [&](const Series& s) { return s.key == key; });
  if (it == series_.end()) return;
  plot_->removeGraph(it->raw);
  plot_->removeGraph(it->smooth);
  plot_->removeGraph(it->val);
  series_.erase(it);
  hideReadout();
  scheduleReplot();
}

QStringList LossPlot::runKeys() const {
  QStringList keys;
  for (const auto& s : series_)
    if (!s.key.isEmpty()) keys << s.key;
  return keys;
}

QColor LossPlot::seriesColor(const QString& key) const {
  for (const auto& s : series_)
    if (s.key == key) return s.color;
  return QColor();
}

double LossPlot::smoothing() const { return smoothing_->value() / 1000.0; }
void LossPlot::setSmoothing(double value) { smoothing_->setValue(static_cast<int>(std::lround(value * 1000))); }
bool LossPlot::logY() const { return log_y_->isChecked(); }

void LossPlot::setLogY(bool on) {
  if (log_y_->isChecked() != on) {
    log_y_->setChecked(on);  // comes back here through toggled()
    return;
  }
  plot_->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (on)
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker125));
  else
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  scheduleReplot();
  Q_EMIT logYChanged(on);
}

void LossPlot::setTimeAxis(bool on) { setXAxis(on ? XAxis::Elapsed : XAxis::Step); }
LossPlot::XAxis LossPlot::xAxis() const { return static_cast<XAxis>(x_axis_->currentIndex()); }
LossPlot::Chart LossPlot::chart() const { return static_cast<Chart>(chart_->currentIndex()); }
void LossPlot::setChart(Chart chart) { chart_->setCurrentIndex(static_cast<int>(chart)); }

void LossPlot::setXAxis(XAxis axis) {
  if (x_axis_->currentIndex() != static_cast<int>(axis)) {
    x_axis_->setCurrentIndex(static_cast<int>(axis));  // comes back here
    return;
  }
  if (axis == XAxis::WallClock) {
    auto ticker = QSharedPointer<QCPAxisTickerDateTime>(new QCPAxisTickerDateTime);
    ticker->setDateTimeFormat(QStringLiteral("HH:mm:ss"));  // a run's hours; the day is in the readout
    plot_->xAxis->setTicker(ticker);
  } else {
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  }
  plot_->xAxis->setLabel(axis == XAxis::Step      ? tr("step")
                         : axis == XAxis::Elapsed ? tr("time since the run started (s)")
                                                  : tr("wall-clock time"));
  user_zoomed_ = false;
  hideReadout();  // the readout named a point of the previous axis
  rebuild();
}

double LossPlot::xOf(const HistoryRow& r) const {
  switch (xAxis()) {
    case XAxis::Step:
      return static_cast<double>(r.step);
    case XAxis::Elapsed:
      return r.elapsed_s;
    case XAxis::WallClock:
      return r.wall_time > 0 ? r.wall_time : std::nan("");
  }
  return 0;
}

double LossPlot::yOf(const HistoryRow& r) const {
  switch (chart()) {
    case Chart::Loss:
      return r.train_loss;
    case Chart::LearningRate:
      return r.lr;
    case Chart::Throughput:
      return r.captions_per_s;
  }
  return 0;
}

void LossPlot::append(const QVector<TrainPoint>& points) {
  Series& live = series_.front();
  Curves added;
  for (const auto& p : points) {
    live.history.rows.push_back({p.step, p.train_loss, p.val_loss, p.captions_per_s, p.lr, p.elapsed_s, p.wall_time});
    trace(live.history.rows.back(), live.smoother, added);
  }
  live.raw->addData(added.xs, added.raw, true);
  live.smooth->addData(added.xs, added.smooth, true);
  if (!added.val.isEmpty()) live.val->addData(added.val_xs, added.val, true);
  if (live.history.rows.size() == static_cast<size_t>(points.size())) labelSeries(live);  // the first points
  scheduleReplot();
}

void LossPlot::rebuildSeries(Series& s) {
  Curves curves;
  s.smoother = Smoother{smoothing()};
  for (const auto& r : s.history.rows) trace(r, s.smoother, curves);
  s.raw->setData(curves.xs, curves.raw, true);
  s.smooth->setData(curves.xs, curves.smooth, true);
  s.val->setData(curves.val_xs, curves.val, true);
  labelSeries(s);
}

void LossPlot::rebuild() {
  for (auto& s : series_) rebuildSeries(s);
  scheduleReplot();
}

void LossPlot::clear(const QString& label) {
  hideReadout();
  Series& live = series_.front();
  live.history.rows.clear();
  if (!label.isEmpty()) live.label = label;
  user_zoomed_ = false;
  rebuildSeries(live);
  scheduleReplot();
}

int LossPlot::trainPointCount() const { return static_cast<int>(series_.front().history.rows.size()); }

int LossPlot::valPointCount() const {
  const auto& rows = series_.front().history.rows;
  return static_cast<int>(std::count_if(rows.begin(), rows.end(), [](const HistoryRow& r) { return !std::isnan(r.val_loss); }));
}

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

QString LossPlot::readoutAt(double x) const {
  const bool loss = chart() == Chart::Loss;
  const bool wall = xAxis() == XAxis::WallClock;
  QStringList parts;
  for (const auto& s : series_) {
    const auto* data = s.smooth->data().data();
    if (data->isEmpty()) continue;
    auto it = data->findEnd(x, false);       // past the last point at or before x
    if (it == data->constBegin()) continue;  // x is before this series' data
    --it;
    const double key = it->key;
    const auto raw_it = s.raw->data()->findBegin(key, false);
    QString part = QStringLiteral("<span style=\"color:%1\">■</span> %2: ").arg(s.color.name(), s.label.toHtmlEscaped());
    part += wall ? QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(key * 1000)).toString(QStringLiteral("HH:mm:ss"))
                 : (xAxis() == XAxis::Step ? tr("step %1").arg(key, 0, 'f', 0) : tr("%1 s").arg(key, 0, 'f', 1));
    const int digits = chart() == Chart::LearningRate ? 6 : 4;
    part += tr(" %1 %2 (raw %3)")
                .arg(loss                             ? tr("train")
                     : chart() == Chart::LearningRate ? tr("lr")
                                                      : tr("captions/s"))
                .arg(it->value, 0, 'g', digits)
                .arg(raw_it != s.raw->data()->constEnd() ? raw_it->value : std::nan(""), 0, 'g', digits);
    if (loss) {
      // The latest validation at or before that point.
      const auto* val = s.val->data().data();
      auto v = val->findBegin(key, false);  // the first at or after the point
      if (v == val->constEnd() || v->key > key) v = v == val->constBegin() ? val->constEnd() : v - 1;
      if (v != val->constEnd()) part += tr(", val %1").arg(v->value, 0, 'f', 4);
    }
    parts << part;
  }
  return parts.join(QStringLiteral("<br>"));
}

QString LossPlot::readoutText() const { return readout_->text(); }

void LossPlot::onMouseMove(QMouseEvent* event) {
  const double x = plot_->xAxis->pixelToCoord(event->position().x());
  const QString text = readoutAt(x);
  if (text.isEmpty()) {
    hideReadout();
    return;
  }
  cursor_->point1->setCoords(x, 0);
  cursor_->point2->setCoords(x, 1);
  cursor_->setVisible(true);
  readout_->setText(text);
  plot_->layer(QStringLiteral("hover"))->replot();
}

void LossPlot::hideReadout() {
  readout_->clear();
  if (cursor_->visible()) {
    cursor_->setVisible(false);
    plot_->layer(QStringLiteral("hover"))->replot();
  }
}

bool LossPlot::eventFilter(QObject* watched, QEvent* event) {
  if (watched == plot_ && event->type() == QEvent::Leave) hideReadout();
  return QWidget::eventFilter(watched, event);
}

bool LossPlot::exportCsv(const QString& path) const {
  QString csv = QStringLiteral("run,step,wall_time,elapsed_s,train_raw,train_smoothed,val_loss,lr,captions_per_s\n");
  for (const auto& s : series_) {
    QString run = s.label;
    run.replace(QLatin1Char('"'), QLatin1String("\"\""));
    Smoother smoother{smoothing()};
    for (const auto& r : s.history.rows) {
      csv += QStringLiteral("\"%1\",%2,%3,%4,%5,%6,%7,%8,%9\n")
                 .arg(run)
                 .arg(r.step)
                 .arg(r.wall_time, 0, 'f', 3)
                 .arg(r.elapsed_s, 0, 'f', 3)
                 .arg(r.train_loss, 0, 'g', 7)
                 .arg(smoother.add(r.train_loss), 0, 'g', 7)
                 .arg(std::isnan(r.val_loss) ? QString() : QString::number(r.val_loss, 'g', 7))
                 .arg(r.lr, 0, 'g', 6)
                 .arg(r.captions_per_s, 0, 'f', 1);
    }
  }
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
  const QByteArray bytes = csv.toUtf8();
  return file.write(bytes) == bytes.size();
}

bool LossPlot::exportPng(const QString& path) { return plot_->savePng(path, 0, 0, 1.0); }

bool LossPlot::exportSvg(const QString& path) {
  const int w = plot_->width(), h = plot_->height();
  {
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(QSize(w, h));
    svg.setViewBox(QRect(0, 0, w, h));
    svg.setTitle(tr("Captioner training curves"));
    QCPPainter painter;
    if (!painter.begin(&svg)) return false;
    plot_->toPainter(&painter, w, h);
    painter.end();
  }
  return QFileInfo(path).size() > 0;
}

}  // namespace captioner::ui
