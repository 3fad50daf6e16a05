// Screenshots of both tabs in use, for the README: run by `packaging/quickstart.sh screenshots`
// under xvfb-run (label `screenshots`, kept out of the default run). Writes training.png and
// caption.png to $CAPTIONER_SCREENSHOTS (default: the test's temporary folder) and checks they
// are not blank. $CAPTIONER_SCREENSHOT_MODEL may name a better-trained run for the Caption tab,
// $CAPTIONER_SCREENSHOT_IMAGES (colon-separated) the images it captions, and
// $CAPTIONER_SCREENSHOT_RUNS a folder of saved runs, copied into the app's runs folder so that
// the Training tab lists them and draws the two newest beside the live run.
#include "gui_support.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include "ui/caption_tab.h"
#include "ui/loss_plot.h"
#include "ui/main_window.h"
#include "ui/run_list.h"
#include "ui/training_tab.h"

using namespace captioner;

namespace {

// Copies every run folder under `from` (those with a run.json) into `to`.
void copy_runs(const QString& from, const QString& to) {
  for (const QFileInfo& run : QDir(from).entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot)) {
    if (!QFileInfo::exists(run.filePath() + "/run.json")) continue;
    QDir().mkpath(to + "/" + run.fileName());
    for (const QFileInfo& f : QDir(run.filePath()).entryInfoList(QDir::Files))
      QFile::copy(f.filePath(), to + "/" + run.fileName() + "/" + f.fileName());
  }
}

// Standard deviation of the grey levels: a blank or single-colour image is near 0.
double spread(const QImage& image) {
  const QImage g = image.convertToFormat(QImage::Format_Grayscale8);
  double sum = 0, sum2 = 0;
  const double n = static_cast<double>(g.width()) * g.height();
  for (int y = 0; y < g.height(); ++y)
    for (int x = 0; x < g.width(); ++x) {
      const double v = g.pixelColor(x, y).value();
      sum += v;
      sum2 += v * v;
    }
  return std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n)));
}

}  // namespace

class TestGuiScreenshots : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void both_tabs_in_use() {
    QStandardPaths::setTestModeEnabled(true);
    QSettings().clear();
    test::store_small_training_settings(64, 32, 16, 10, 400);  // many points within the screenshot's time
    const QString out =
        qEnvironmentVariableIsSet("CAPTIONER_SCREENSHOTS") ? qEnvironmentVariable("CAPTIONER_SCREENSHOTS") : dir_.path();
    const QString shapes = QString::fromStdString(test::make_shapes_with_features(dir_.path().toStdString(), 48));

    const QString runs = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/runs";
    QDir(runs).removeRecursively();
    if (qEnvironmentVariableIsSet("CAPTIONER_SCREENSHOT_RUNS"))
      copy_runs(qEnvironmentVariable("CAPTIONER_SCREENSHOT_RUNS"), runs);

    ui::MainWindow window;
    window.resize(1360, 860);
    window.show();
    ui::RunList* list = window.trainingTab()->runList();
    QTRY_VERIFY_WITH_TIMEOUT(list->runCount() > 0 || !qEnvironmentVariableIsSet("CAPTIONER_SCREENSHOT_RUNS"), 10000);
    for (int i = 0; i < std::min(2, list->runCount()); ++i) list->setChecked(list->runDir(i), true);
    if (list->runCount() > 0) list->select(list->runDir(0));
    window.trainingTab()->setDataset(shapes);
    window.trainingTab()->start();
    QElapsedTimer clock;
    clock.start();
    while (window.trainingTab()->plot()->valPointCount() < 12 && clock.elapsed() < 150000) QTest::qWait(50);
    window.trainingTab()->stop();
    while (window.trainingTab()->isTraining() && clock.elapsed() < 150000) QTest::qWait(50);
    QTest::qWait(300);
    const QImage training = window.grab().toImage();
    QVERIFY(training.save(out + "/training.png"));
    QVERIFY2(spread(training) > 10, "training screenshot is blank");

    const QString model = qEnvironmentVariableIsSet("CAPTIONER_SCREENSHOT_MODEL")
                              ? qEnvironmentVariable("CAPTIONER_SCREENSHOT_MODEL")
                              : window.trainingTab()->lastRunDir();
    window.tabs()->setCurrentWidget(window.captionTab());
    QSignalSpy loaded(window.captionTab(), &ui::CaptionTab::modelLoaded);
    window.captionTab()->loadModel(model);
    QVERIFY(loaded.wait(60000) && loaded.front().at(1).toBool());
    window.captionTab()->setMode(QStringLiteral("beam"));
    QSignalSpy captioned(window.captionTab(), &ui::CaptionTab::captioned);
    const QStringList images =
        qEnvironmentVariableIsSet("CAPTIONER_SCREENSHOT_IMAGES")
            ? qEnvironmentVariable("CAPTIONER_SCREENSHOT_IMAGES").split(':')
            : QStringList{shapes + "/images/000002.png", shapes + "/images/000007.png", shapes + "/images/000005.png"};
    window.captionTab()->addImages(images);
    QVERIFY(captioned.wait(60000));
    window.captionTab()->selectWord(std::min(3, window.captionTab()->wordCount() - 1));
    QTest::qWait(300);
    const QImage caption = window.grab().toImage();
    QVERIFY(caption.save(out + "/caption.png"));
    QVERIFY2(spread(caption) > 10, "caption screenshot is blank");
    qInfo("screenshots in %s", qPrintable(out));
  }
};

QTEST_MAIN(TestGuiScreenshots)
#include "test_gui_screenshots.moc"
