// The Training tab: a tiny Shapes run started from the tab streams train and validation points to
// the plot; pause, resume and stop change the state; the event loop stays responsive.
#include "gui_support.h"

#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QScrollBar>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest/QtTest>
#include <ctime>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "ui/qcustomplot_include.h"

#include "cli_support.h"
#include "core/run/run_folder.h"
#include "core/run/run_summary.h"
#include "core/train/recipe.h"
#include "core/vision/grid_layer.h"
#include "ui/eval_report.h"
#include "ui/loss_plot.h"
#include "ui/run_list.h"
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
    // Runs of an earlier run of this test must not count.
    QDir(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/runs").removeRecursively();
    shapes_ = QString::fromStdString(test::make_shapes_with_features(dir_.path().toStdString(), 32));
  }

  // Fresh settings train what `captioner train` trains with no options: the shared recipe, on the
  // layer the bundled weights are read best from.
  void fresh_settings_train_the_recommended_recipe() {
    QSettings().clear();
    ui::TrainingTab tab;
    auto* preset = tab.findChild<QComboBox*>(QStringLiteral("preset"));
    auto* steps = tab.findChild<QSpinBox*>(QStringLiteral("steps"));
    auto* layer = tab.findChild<QComboBox*>(QStringLiteral("layer"));
    QVERIFY(preset && steps && layer);
    const TrainConfig recipe = recommended_config();
    QCOMPARE(preset->currentData().toString(), QString("default"));
    QCOMPARE(steps->value(), static_cast<int>(recipe.steps));
    QCOMPARE(layer->currentData().toString(), QString("auto"));
    // A preset sets steps, batch and cadence together; a hand edit makes it Custom.
    preset->setCurrentIndex(preset->findData("quick"));
    QCOMPARE(steps->value(), static_cast<int>(find_train_preset("quick").steps));
    steps->setValue(steps->value() + 1);
    QCOMPARE(preset->currentData().toString(), QString());
    preset->setCurrentIndex(preset->findData("default"));

    tab.setDataset(shapes_);
    tab.start();
    QVERIFY(wait_for([&] { return tab.state() == ui::RunState::Running; }, 120000));
    tab.stop();
    QVERIFY(wait_for([&] { return !tab.isTraining(); }, 60000));
    const RunSummary run = read_run_summary(tab.lastRunDir().toStdString());
    QCOMPARE(run.config.model.kind, recipe.model.kind);
    QCOMPARE(run.config.steps, recipe.steps);
    QCOMPARE(run.config.batch_size, recipe.batch_size);
    QCOMPARE(run.config.lr, recipe.lr);
    QCOMPARE(run.config.lr_decay_every, recipe.lr_decay_every);
    QCOMPARE(run.config.model.dropout, recipe.model.dropout);
    QCOMPARE(run.config.model.attention_dim, recipe.model.attention_dim);
    QCOMPARE(run.config.model.coverage, recipe.model.coverage);
    QCOMPARE(run.config.max_len, recipe.max_len);
    // The bundled nsfwjs weights: "auto" is mixed5.
    QVERIFY2(grid_layer_of(run.config.encoder_id) == GridLayer::Mixed5, run.config.encoder_id.c_str());
    QSettings().clear();
  }

  // Saved runs are listed newest first, drawn together in distinct colours, compared setting by
  // setting, exported, and evaluated off the GUI thread into a report.
  void runs_are_listed_overlaid_compared_and_evaluated() {
    const QString runs = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/runs";
    const QString lstm = runs + "/a-lstm", attention = runs + "/b-attention";
    test::train_small_model(shapes_.toStdString(), lstm.toStdString(), "lstm", 30);
    test::train_small_model(shapes_.toStdString(), attention.toStdString(), "attention", 40);
    ui::TrainingTab tab;
    tab.setDataset(shapes_);
    ui::RunList* list = tab.runList();
    QTRY_VERIFY_WITH_TIMEOUT(list->summary(lstm) && list->summary(attention), 10000);
    int row_lstm = -1, row_attention = -1;
    for (int i = 0; i < list->runCount(); ++i) {
      if (list->runDir(i) == lstm) row_lstm = i;
      if (list->runDir(i) == attention) row_attention = i;
    }
    QVERIFY(row_attention < row_lstm);  // trained later, listed first

    // Checking a run reads its history off the GUI thread: the click returns before the curve is drawn.
    test::StallMeter overlay_meter;
    list->setChecked(lstm, true);
    list->setChecked(attention, true);
    QVERIFY(tab.plot()->runKeys().size() < 2);
    QTRY_COMPARE_WITH_TIMEOUT(tab.plot()->runKeys().size(), 2, 10000);
    const qint64 overlay_stall = overlay_meter.worst();
    QVERIFY(tab.plot()->seriesColor(lstm) != tab.plot()->seriesColor(attention));
    // The readout names every shown series at the hovered step.
    const QString readout = tab.plot()->readoutAt(20);
    QVERIFY2(readout.contains("a-lstm") && readout.contains("b-attention") && readout.contains("val"), qPrintable(readout));
    // What differs between the checked runs is highlighted: the model kind and the steps, not the batch.
    QTableWidget* compare = list->comparison();
    auto differs = [&](const QString& name) {
      for (int r = 0; r < compare->rowCount(); ++r)
        if (compare->verticalHeaderItem(r)->text() == name) return compare->item(r, 0)->data(Qt::UserRole).toBool();
      return false;
    };
    QVERIFY(differs("model") && differs("steps") && !differs("batch"));
    // At the main window's first size, both runs' settings are shown whole: no column is cut.
    tab.resize(1280, 820);
    tab.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tab));
    QTRY_VERIFY_WITH_TIMEOUT(compare->isVisible() && compare->horizontalScrollBar()->maximum() == 0, 5000);
    QVERIFY(compare->viewport()->width() >= compare->columnWidth(0) + compare->columnWidth(1));

    const QString csv = dir_.path() + "/runs.csv", svg = dir_.path() + "/runs.svg", png = dir_.path() + "/runs.png";
    QVERIFY(tab.plot()->exportCsv(csv));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 1 + 30 + 40);  // the header, then every step of each shown run
    auto rows_of = [&](const QByteArray& label) {
      return std::count_if(lines.begin(), lines.end(), [&](const QByteArray& l) { return l.startsWith(label); });
    };
    QCOMPARE(rows_of(QStringLiteral("\"a-lstm · lstm\",").toUtf8()), 30);
    QCOMPARE(rows_of(QStringLiteral("\"b-attention · attention\",").toUtf8()), 40);
    tab.resize(900, 600);
    QVERIFY(tab.plot()->exportSvg(svg));
    QFile s(svg);
    QVERIFY(s.open(QIODevice::ReadOnly));
    QVERIFY(s.readAll().contains("<svg"));
    QVERIFY(tab.plot()->exportPng(png));
    QVERIFY(!QImage(png).isNull());

    // Evaluation in the app: the same scores as captioner eval, shown in the list.
    // Evaluation runs on its own thread: the request returns at once and the window keeps answering.
    QSignalSpy evaluated(&tab, &ui::TrainingTab::evaluationFinished);
    test::StallMeter eval_meter;
    tab.evaluateRun(attention);
    QCOMPARE(evaluated.count(), 0);
    QVERIFY(evaluated.wait(120000));
    const qint64 eval_stall = eval_meter.worst();
    QVERIFY(evaluated.front().at(1).toBool());
    QTRY_VERIFY_WITH_TIMEOUT(list->summary(attention) && list->summary(attention)->evaluation.count("CIDEr"), 10000);
    const RunSummary* scored = list->summary(attention);
    QVERIFY(scored->evaluation.count("content_accuracy") && scored->evaluation.count("pointing"));
    QCOMPARE(scored->evaluation_split, std::string("val"));  // the fixture has no test split
    ui::EvalReport report(attention);
    QVERIFY2(report.isValid(), qPrintable(report.error()));
    QVERIFY(report.worstImages()->count() > 0);
    QSignalSpy opened(&report, &ui::EvalReport::openImage);
    Q_EMIT report.worstImages()->itemActivated(report.worstImages()->item(0));
    QCOMPARE(opened.count(), 1);
    QVERIFY(QFileInfo::exists(opened.front().at(0).toString()));
    qInfo("most GUI-thread CPU time between two event-loop ticks: %lld ms overlaying runs, %lld ms evaluating",
          static_cast<long long>(overlay_stall), static_cast<long long>(eval_stall));
    QVERIFY2(overlay_stall <= test::kMaxStallMs && eval_stall <= test::kMaxStallMs,
             qPrintable(QString("the GUI thread was busy %1 ms / %2 ms at a stretch").arg(overlay_stall).arg(eval_stall)));
    // `captioner eval` with its default decoding scores the run exactly as the app did: one set
    // of decoding defaults (the length limit included) behind both.
    const test::Run cli = test::run({"eval", "--model", attention, "--data", shapes_, "--split", "val", "--json"});
    QVERIFY2(cli.code == 0, cli.err.c_str());
    QFile app_report(QString::fromStdString(RunFolder(attention.toStdString()).evaluation()));
    QVERIFY(app_report.open(QIODevice::ReadOnly));
    const auto by_app = nlohmann::json::parse(app_report.readAll().toStdString());
    const auto by_cli = nlohmann::json::parse(cli.out);
    for (const char* key : {"Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr", "mean_log_prob", "content_accuracy", "pointing", "chair_i",
                            "repetition_rate", "images", "decoding"})
      QVERIFY2(by_app.at(key) == by_cli.at(key),
               (std::string(key) + ": app " + by_app.at(key).dump() + ", captioner eval " + by_cli.at(key).dump()).c_str());
    list->setChecked(lstm, false);
    QTRY_COMPARE_WITH_TIMEOUT(tab.plot()->runKeys().size(), 1, 10000);
  }

  void training_streams_points_and_obeys_pause_resume_stop() {
    ui::TrainingTab tab;
    tab.setDataset(shapes_);
    // Small, fast settings through the tab's own controls (QSettings round trip).
    test::store_small_training_settings(32, 16, 8, 5, 400);
    tab.loadSettings();
    QCOMPARE(tab.dataset(), shapes_);

    tab.start();
    QVERIFY(wait_for([&] { return tab.state() == ui::RunState::Running; }, 60000));
    test::StallMeter meter;
    QVERIFY(wait_for([&] { return tab.plot()->valPointCount() >= 3; }, 60000));
    const qint64 worst = meter.worst();
    qInfo("worst event-loop stall while training: %lld ms", static_cast<long long>(worst));
    QVERIFY2(worst <= test::kMaxStallMs, qPrintable(QString("the event loop stalled %1 ms while training").arg(worst)));
    QVERIFY(tab.plot()->trainPointCount() >= 15);
    // Every validation's sample captions stay, newest first, with the reference and a thumbnail.
    auto* samples = tab.findChild<QListWidget*>(QStringLiteral("validationSamples"));
    QVERIFY(samples);
    QTRY_VERIFY_WITH_TIMEOUT(samples->count() >= 6, 10000);
    QVERIFY2(samples->item(0)->text().startsWith("step ") && samples->item(0)->text().contains("\nreference: "),
             qPrintable(samples->item(0)->text()));
    QTRY_VERIFY_WITH_TIMEOUT(!samples->item(0)->icon().isNull(), 10000);

    // Preview opens the latest checkpoint: it is offered only once one exists.
    auto* preview = tab.findChild<QPushButton*>(QStringLiteral("preview"));
    const QString checkpoint = tab.lastRunDir() + QStringLiteral("/checkpoint.pt");
    QVERIFY(!preview->isEnabled() || QFileInfo::exists(checkpoint));
    QTRY_VERIFY_WITH_TIMEOUT(QFileInfo::exists(checkpoint), 60000);
    QTRY_VERIFY_WITH_TIMEOUT(preview->isEnabled(), 10000);

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
    QVERIFY2(status.startsWith("Stopped at step ") && !status.contains("captions/s") && !status.contains("ETA"),
             qPrintable(status));
    QVERIFY(tab.plot()->trainPointCount() < 400);
    QVERIFY(QFileInfo::exists(tab.lastRunDir() + "/checkpoint.pt"));
    const QString csv = dir_.path() + "/loss.csv";
    QVERIFY(tab.plot()->exportCsv(csv));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray exported = f.readAll();
    QCOMPARE(exported.count('\n'), tab.plot()->trainPointCount() + 1);
    // What the plot received is what the run saved: the export's steps, losses and wall times
    // are history.csv's, row for row.
    QFile saved(tab.lastRunDir() + "/history.csv");
    QVERIFY(saved.open(QIODevice::ReadOnly));
    const History history = History::from_csv(saved.readAll().toStdString(), "history.csv");
    const QList<QByteArray> lines = exported.trimmed().split('\n');
    QCOMPARE(lines.front(), QByteArray("run,step,wall_time,elapsed_s,train_raw,train_smoothed,val_loss,lr,captions_per_s"));
    QCOMPARE(static_cast<size_t>(lines.size() - 1), history.rows.size());
    for (size_t i = 0; i < history.rows.size(); ++i) {
      const QList<QByteArray> f = lines[static_cast<int>(i) + 1].split(',');
      const HistoryRow& r = history.rows[i];
      QCOMPARE(f[1].toLongLong(), r.step);
      QVERIFY(std::abs(f[2].toDouble() - r.wall_time) < 2e-3 && r.wall_time > 1.7e9);
      QVERIFY(std::abs(f[4].toDouble() - r.train_loss) < 1e-5);
      QCOMPARE(f[6].isEmpty(), std::isnan(r.val_loss));
      if (!std::isnan(r.val_loss)) QVERIFY(std::abs(f[6].toDouble() - r.val_loss) < 1e-5);
    }
    // Each validation's captions are listed once, under the step it ran at: N validations, N x the
    // samples per validation, however many status updates came between them.
    std::map<int64_t, int> rows_per_step;
    for (int i = 0; i < samples->count(); ++i)
      ++rows_per_step[samples->item(i)->text().section(QLatin1Char(' '), 1, 1).toLongLong()];
    std::set<int64_t> validated;
    for (const HistoryRow& r : history.rows)
      if (!std::isnan(r.val_loss)) validated.insert(r.step);
    QVERIFY(validated.size() >= 3);
    QCOMPARE(rows_per_step.size(), validated.size());
    for (const auto& [step, rows] : rows_per_step) {
      QVERIFY2(validated.count(step), qPrintable(QString("samples under step %1, which had no validation").arg(step)));
      QCOMPARE(rows, rows_per_step.begin()->second);
    }
    // The run folder's summary says where it stopped.
    const RunSummary summary = read_run_summary(tab.lastRunDir().toStdString());
    QCOMPARE(summary.state, std::string("stopped"));
    QCOMPARE(summary.step, history.rows.back().step);
  }

  // A run as long as the Default preset's (5,000 steps, a validation every 250) keeps the window
  // responsive to the end, and its samples tab, opened late, lists each validation's captions
  // once: 20 validations, 20 x the samples of one.
  void a_default_length_run_stays_responsive_and_lists_each_validation_once() {
    ui::TrainingTab tab;
    tab.resize(1100, 800);
    tab.show();
    tab.setDataset(shapes_);
    test::store_small_training_settings(16, 8, 4, 250, 5000);
    QSettings().setValue(QStringLiteral("training/kind"), 1);  // the LSTM: the smallest model, whatever ran before
    tab.loadSettings();
    QSignalSpy finished(&tab, &ui::TrainingTab::trainingFinished);
    test::StallMeter during_run;
    tab.start();
    QVERIFY(wait_for([&] { return finished.count() == 1; }, 300000));
    const qint64 run_stall = during_run.worst();
    QCOMPARE(tab.plot()->trainPointCount(), 5000);

    auto* samples = tab.findChild<QListWidget*>(QStringLiteral("validationSamples"));
    QVERIFY(samples);
    auto* pages = qobject_cast<QTabWidget*>(samples->parentWidget()->parentWidget());
    QVERIFY(pages);
    test::StallMeter opening;
    pages->setCurrentWidget(samples);
    QTest::qWait(300);  // laid out, painted, thumbnails set
    const qint64 open_stall = opening.worst();
    qInfo("a 5,000-step run: most GUI-thread CPU time at a stretch %lld ms while it ran, %lld ms opening its samples",
          static_cast<long long>(run_stall), static_cast<long long>(open_stall));
    QVERIFY2(run_stall <= test::kMaxStallMs && open_stall <= test::kMaxStallMs,
             qPrintable(QString("the GUI thread was busy %1 ms / %2 ms at a stretch").arg(run_stall).arg(open_stall)));

    std::map<int64_t, int> rows_per_step;
    for (int i = 0; i < samples->count(); ++i)
      ++rows_per_step[samples->item(i)->text().section(QLatin1Char(' '), 1, 1).toLongLong()];
    std::set<int64_t> expected;
    for (int64_t step = 250; step <= 5000; step += 250) expected.insert(step);
    std::set<int64_t> listed;
    for (const auto& [step, rows] : rows_per_step) listed.insert(step);
    QVERIFY(listed == expected);
    for (const auto& [step, rows] : rows_per_step) QCOMPARE(rows, rows_per_step.begin()->second);
    QCOMPARE(samples->count(), 20 * rows_per_step.begin()->second);
  }

  // The meter the stall checks rely on sees work done on the GUI thread: 120 ms of this thread's
  // CPU time inside one event shows as a stretch of at least 100 ms.
  void stall_meter_sees_work_on_the_gui_thread() {
    test::StallMeter meter;
    QTimer::singleShot(0, [] {
      auto cpu_ms = [] {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
      };
      const long long start = cpu_ms();
      volatile unsigned sink = 0;
      while (cpu_ms() - start < 120) sink = sink + 1;
    });
    QTest::qWait(300);
    QVERIFY2(meter.worst() >= 100, qPrintable(QString("the meter saw %1 ms").arg(meter.worst())));
  }

  // The smoothed curve is a debiased moving average: a constant loss stays constant from the
  // first point, and a step change is followed at the configured rate.
  void plot_smoothing_is_debiased() {
    ui::LossPlot plot;
    plot.setSmoothing(0.9);
    QVector<ui::TrainPoint> points;
    for (int i = 1; i <= 5; ++i) points.push_back({i, i * 0.1, 0, 2.0, std::nan("")});
    points.push_back({6, 0.6, 0, 1.0, 1.5});
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

  // A log axis over a run's losses (below 1, mostly) labels 1-2-5 values, not only powers of ten.
  void log_axis_labels_the_values_a_run_has() {
    ui::LossPlot plot;
    plot.resize(600, 400);
    QVector<ui::TrainPoint> points;
    for (int i = 1; i <= 50; ++i) points.push_back({i, i * 0.1, 0, 3.0 / i, std::nan("")});
    plot.append(points);
    plot.setLogY(true);
    plot.plot()->yAxis->setRange(0.06, 3.0);
    plot.plot()->replot();
    const QVector<double> ticks = plot.plot()->yAxis->tickVector();
    const QVector<QString> labels = plot.plot()->yAxis->tickVectorLabels();
    QVERIFY2(ticks.size() >= 4, qPrintable(QString::number(ticks.size())));
    QVERIFY(labels.contains(QStringLiteral("0.1")) && labels.contains(QStringLiteral("0.2")) &&
            labels.contains(QStringLiteral("0.5")));
  }

  void a_bad_dataset_is_reported_in_the_tab() {
    ui::TrainingTab tab;
    QSignalSpy errors(&tab, &ui::TrainingTab::errorOccurred);
    const QString bad = dir_.path() + "/bad.json";
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"images\": [{\"filename\": \"x.png\"}]}");
    f.close();
    tab.setDataset(bad);  // read off the GUI thread
    QTRY_VERIFY_WITH_TIMEOUT(errors.count() >= 1, 10000);
    QVERIFY(errors.first().at(0).toString().contains("bad.json"));
  }
};

QTEST_MAIN(TestGuiTraining)
#include "test_gui_training.moc"
