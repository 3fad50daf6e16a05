// The Training tab: a tiny Shapes run started from the tab streams train and validation points to
// the plot; pause, resume and stop change the state; the event loop stays responsive.
#include "gui_support.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest/QtTest>

#include "ui/qcustomplot_include.h"

#include "ui/loss_plot.h"
#include "ui/train_worker.h"
#include "ui/training_tab.h"

using namespace captioner;

namespace {

bool wait_for(const std::function<bool()>& done, int timeout_ms) {
  QElapsedTimer clock;
  clock.start();
  while (!done() && clock.elapsed() < timeout_ms) QTest::qWait(10);
  return done();
}

}  // namespace

class TestGuiTraining : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString shapes_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QSettings().clear();
    shapes_ = QString::fromStdString(test::make_shapes_with_features(dir_.path().toStdString(), 32));
  }

  void training_streams_points_and_obeys_pause_resume_stop() {
    ui::TrainingTab tab;
    tab.setDataset(shapes_);
    // Small, fast settings through the tab's own controls (QSettings round trip).
    test::store_small_training_settings(32, 16, 8, 5, 400);
    tab.loadSettings();
    QCOMPARE(tab.dataset(), shapes_);

    // The worst gap between ticks of a 5 ms timer measures how long the event loop stalls.
    QElapsedTimer clock;
    qint64 last = 0, worst = 0;
    QTimer ticker;
    ticker.setInterval(5);
    QObject::connect(&ticker, &QTimer::timeout, [&] {
      const qint64 now = clock.elapsed();
      if (last > 0) worst = std::max(worst, now - last);
      last = now;
    });

    tab.start();
    QVERIFY(wait_for([&] { return tab.state() == ui::RunState::Running; }, 60000));
    clock.start();
    ticker.start();
    QVERIFY(wait_for([&] { return tab.plot()->valPointCount() >= 3; }, 60000));
    ticker.stop();
    qInfo("worst event-loop stall while training: %lld ms", static_cast<long long>(worst));
    // The README reports ~15 ms; 100 ms is where a user starts to see the window stutter.
    QVERIFY2(worst <= 100, qPrintable(QString("the event loop stalled %1 ms while training").arg(worst)));
    QVERIFY(tab.plot()->trainPointCount() >= 15);

    tab.pause();
    QVERIFY(wait_for([&] { return tab.state() == ui::RunState::Paused; }, 10000));
    QTest::qWait(200);  // points already queued may still arrive; then nothing moves
    const int paused_at = tab.plot()->trainPointCount();
    QTest::qWait(300);
    QCOMPARE(tab.plot()->trainPointCount(), paused_at);

    tab.unpause();
    QVERIFY(wait_for([&] { return tab.plot()->trainPointCount() > paused_at; }, 10000));
    QVERIFY(tab.state() == ui::RunState::Running);

    QSignalSpy finished(&tab, &ui::TrainingTab::trainingFinished);
    tab.stop();
    QVERIFY(wait_for([&] { return finished.count() == 1; }, 30000));
    QVERIFY(tab.state() == ui::RunState::Stopped);
    // Stopped: where it stopped, no rate or ETA any more.
    const QString status = tab.findChild<QLabel*>(QStringLiteral("runStatus"))->text();
    QVERIFY2(status.startsWith("Stopped at step ") && !status.contains("captions/s") && !status.contains("ETA"), qPrintable(status));
    QVERIFY(tab.plot()->trainPointCount() < 400);
    QVERIFY(QFileInfo::exists(tab.lastRunDir() + "/checkpoint.pt"));
    const QString csv = dir_.path() + "/loss.csv";
    QVERIFY(tab.plot()->exportCsv(csv));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray exported = f.readAll();
    QCOMPARE(exported.count('\n'), tab.plot()->trainPointCount() + 1);
    // The run's own history format: what the plot received is what the run saved.
    QFile saved(tab.lastRunDir() + "/history.csv");
    QVERIFY(saved.open(QIODevice::ReadOnly));
    QCOMPARE(exported, saved.readAll());
  }

  // The smoothed curve is a debiased moving average: a constant loss stays constant from the
  // first point, and a step change is followed at the configured rate.
  void plot_smoothing_is_debiased() {
    ui::LossPlot plot;
    plot.setSmoothing(0.9);
    QVector<ui::TrainPoint> points;
    for (int i = 1; i <= 5; ++i) points.push_back({i, i * 0.1, 2.0, std::nan("")});
    points.push_back({6, 0.6, 1.0, 1.5});
    plot.append(points);
    const auto* smooth = plot.plot()->graph(1)->data().data();
    QCOMPARE(smooth->size(), 6);
    for (int i = 0; i < 5; ++i) QVERIFY(std::abs(smooth->at(i)->value - 2.0) < 1e-9);
    const double num = 2.0 * (1 - std::pow(0.9, 5)) * 0.9 + 0.1 * 1.0, expected = num / (1 - std::pow(0.9, 6));
    QVERIFY(std::abs(smooth->at(5)->value - expected) < 1e-9);
    QCOMPARE(plot.valPointCount(), 1);
    plot.setSmoothing(0);  // no smoothing: the raw values
    QVERIFY(std::abs(plot.plot()->graph(1)->data()->at(5)->value - 1.0) < 1e-9);
  }

  void a_bad_dataset_is_reported_in_the_tab() {
    ui::TrainingTab tab;
    QSignalSpy errors(&tab, &ui::TrainingTab::errorOccurred);
    const QString bad = dir_.path() + "/bad.json";
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"images\": [{\"filename\": \"x.png\"}]}");
    f.close();
    tab.setDataset(bad);
    QVERIFY(errors.count() >= 1);
    QVERIFY(errors.first().at(0).toString().contains("bad.json"));
  }
};

QTEST_MAIN(TestGuiTraining)
#include "test_gui_training.moc"
