// The Caption tab driven as a user would: drop images, change the decoding, click words.
#include "gui_support.h"

#include <QApplication>
#include <QDropEvent>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMimeData>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QDoubleSpinBox>
#include <QSpinBox>
#include <QtTest/QtTest>

#include <set>

#include "ui/caption_tab.h"

using namespace captioner;

class TestGuiCaption : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString shapes_, attention_run_, lstm_run_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    const std::string root = dir_.path().toStdString();
    shapes_ = QString::fromStdString(test::make_shapes_with_features(root, 24));
    attention_run_ = QString::fromStdString(test::train_small_model(shapes_.toStdString(), root + "/att", "attention", 60));
    lstm_run_ = QString::fromStdString(test::train_small_model(shapes_.toStdString(), root + "/lstm", "lstm", 30));
  }

  void dropping_image_files_captions_them() {
    ui::CaptionTab tab;
    QVERIFY(tab.loadModel(attention_run_));
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(shapes_ + "/images/000001.png"), QUrl::fromLocalFile(shapes_ + "/images/000002.png")});
    QSignalSpy captioned(&tab, &ui::CaptionTab::captioned);
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&tab, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&tab, &drop);
    QVERIFY(captioned.count() >= 1);
    const QStringList texts = tab.captionTexts();
    QCOMPARE(texts.size(), 1);  // greedy
    QVERIFY2(!texts.front().isEmpty(), "empty caption");
    QVERIFY(tab.wordCount() > 0);
  }

  // Only what the mode reads can be changed: greedy reads none of the settings.
  void settings_follow_the_decoding_mode() {
    ui::CaptionTab tab;
    auto* temperature = tab.findChild<QDoubleSpinBox*>(QStringLiteral("temperature"));
    auto* samples = tab.findChild<QSpinBox*>(QStringLiteral("samples"));
    auto* beam = tab.findChild<QSpinBox*>(QStringLiteral("beamWidth"));
    QVERIFY(temperature && samples && beam);
    const std::vector<std::tuple<QString, bool, bool>> modes = {
        {"greedy", false, false}, {"sample", true, false}, {"beam", false, true}, {"greedy", false, false}};
    for (const auto& [mode, sampling, beaming] : modes) {
      tab.setMode(mode);
      QCOMPARE(temperature->isEnabled(), sampling);
      QCOMPARE(samples->isEnabled(), sampling);
      QCOMPARE(beam->isEnabled(), beaming);
    }
  }

  void temperature_changes_sampled_output() {
    ui::CaptionTab tab;
    QVERIFY(tab.loadModel(attention_run_));
    tab.setSamplingSeed(17);
    tab.addImages({shapes_ + "/images/000003.png"});
    tab.setMode(QStringLiteral("greedy"));
    const QString greedy = tab.captionNow().front();
    tab.setMode(QStringLiteral("sample"));
    // Cold (T = 0.05, p^20): samples collapse onto the likeliest captions. Hot (T = 3): nearly
    // uniform over the vocabulary, every sample differs.
    std::set<QString> cold, hot;
    tab.setTemperature(0.05);
    for (int round = 0; round < 3; ++round)
      for (const QString& c : tab.captionNow()) cold.insert(c);
    tab.setTemperature(3.0);
    for (int round = 0; round < 3; ++round)
      for (const QString& c : tab.captionNow()) hot.insert(c);
    QVERIFY2(cold.count(greedy) == 1, qPrintable(greedy));
    QVERIFY2(hot.size() >= cold.size() + 3, qPrintable(QString("cold %1, hot %2").arg(cold.size()).arg(hot.size())));
  }

  void words_show_their_own_maps_and_export() {
    ui::CaptionTab tab;
    QVERIFY(tab.loadModel(attention_run_));
    tab.addImages({shapes_ + "/images/000004.png"});
    QVERIFY(tab.wordCount() >= 2);
    tab.selectWord(0);
    const QImage first = tab.heatmapImage();
    tab.selectWord(1);
    QCOMPARE(tab.selectedWord(), 1);
    QVERIFY(!first.isNull());
    QVERIFY(tab.heatmapImage() != first);
    QTest::keyClick(&tab, Qt::Key_Right);
    QCOMPARE(tab.selectedWord(), std::min(2, tab.wordCount() - 1));
    const QString strip = dir_.path() + "/strip.png", json = dir_.path() + "/captions.json";
    QVERIFY(tab.exportStrip(strip));
    QVERIFY(QImage(strip).width() > QImage(shapes_ + "/images/000004.png").width());
    QVERIFY(tab.exportJson(json));
    QFile f(json);
    QVERIFY(f.open(QIODevice::ReadOnly));
    // The schema of `captioner caption --json`: END kept as the last token of a finished caption.
    const QJsonObject doc = QJsonDocument::fromJson(f.readAll()).object();
    QCOMPARE(doc[QStringLiteral("image")].toString(), shapes_ + "/images/000004.png");
    const QJsonObject caption = doc[QStringLiteral("captions")].toArray().first().toObject();
    QVERIFY(caption.contains(QStringLiteral("finished")));
    const QJsonArray tokens = caption[QStringLiteral("tokens")].toArray();
    QVERIFY(tokens.first().toObject().contains(QStringLiteral("attention")));
    QCOMPARE(tokens.last().toObject()[QStringLiteral("word")].toString() == QStringLiteral("#END#"),
             caption[QStringLiteral("finished")].toBool());
  }

  void lstm_model_captions_without_maps() {
    ui::CaptionTab tab;
    QVERIFY(tab.loadModel(lstm_run_));
    tab.addImages({shapes_ + "/images/000005.png"});
    QVERIFY(!tab.captionTexts().isEmpty());
    tab.selectWord(0);
    QCOMPARE(tab.heatmapImage(), QImage(shapes_ + "/images/000005.png").convertToFormat(tab.heatmapImage().format()));
  }

  void bad_files_are_reported_not_fatal() {
    ui::CaptionTab tab;
    QSignalSpy errors(&tab, &ui::CaptionTab::errorOccurred);
    QVERIFY(!tab.loadModel(dir_.path() + "/no-such-run"));
    QCOMPARE(errors.count(), 1);
    QVERIFY(errors.takeFirst().at(0).toString().contains("no-such-run"));
    QVERIFY(tab.loadModel(attention_run_));
    const QString junk = dir_.path() + "/junk.png";
    QFile f(junk);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not an image at all");
    f.close();
    QCOMPARE(tab.addImages({junk, shapes_ + "/images/000006.png"}), 1);
    QVERIFY(errors.count() >= 1);
    QVERIFY(errors.last().at(0).toString().contains("junk.png"));
    QVERIFY(!tab.captionTexts().isEmpty());
  }
};

QTEST_MAIN(TestGuiCaption)
#include "test_gui_caption.moc"
