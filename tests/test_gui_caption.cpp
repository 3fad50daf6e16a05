// The Caption tab driven as a user would: drop images, change the decoding, click words.
#include "gui_support.h"

#include <QApplication>
#include <QBuffer>
#include <QDoubleSpinBox>
#include <QDropEvent>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QListWidget>
#include <QMimeData>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <set>

#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "core/data/tokenizer.h"
#include "ui/caption_tab.h"
#include "ui/caption_worker.h"

using namespace captioner;

namespace {

// The tab works off the GUI thread: these wait for its answers.
bool load(ui::CaptionTab& tab, const QString& path) {
  QSignalSpy loaded(&tab, &ui::CaptionTab::modelLoaded);
  tab.loadModel(path);
  return loaded.wait(60000) && loaded.front().at(1).toBool();
}

bool add_and_wait(ui::CaptionTab& tab, const QStringList& paths) {
  QSignalSpy captioned(&tab, &ui::CaptionTab::captioned);
  if (tab.addImages(paths) == 0) return false;
  return captioned.wait(60000);
}

QStringList caption_now(ui::CaptionTab& tab) {
  QSignalSpy captioned(&tab, &ui::CaptionTab::captioned);
  tab.recaption();
  return captioned.wait(60000) ? captioned.last().at(0).toStringList() : QStringList();
}

// A JPEG whose EXIF orientation (6) says: rotate 90 degrees clockwise to show it.
QByteArray jpeg_with_orientation_6(const QImage& image) {
  QByteArray jpeg;
  QBuffer buffer(&jpeg);
  buffer.open(QIODevice::WriteOnly);
  image.save(&buffer, "JPG", 95);
  // APP1: "Exif\0\0", a big-endian TIFF header, one IFD entry: Orientation (0x0112), SHORT, 1, 6.
  const char app1[] =
      "\xFF\xE1\x00\x22"
      "Exif\x00\x00"
      "MM\x00\x2A\x00\x00\x00\x08"
      "\x00\x01"
      "\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"
      "\x00\x00\x00\x00";
  jpeg.insert(2, QByteArray(app1, sizeof app1 - 1));  // after SOI
  return jpeg;
}

}  // namespace

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
    QVERIFY(load(tab, attention_run_));
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(shapes_ + "/images/000001.png"), QUrl::fromLocalFile(shapes_ + "/images/000002.png")});
    QSignalSpy captioned(&tab, &ui::CaptionTab::captioned);
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&tab, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&tab, &drop);
    QVERIFY(captioned.wait(60000));
    const QStringList texts = tab.captionTexts();
    QCOMPARE(texts.size(), 1);  // greedy
    QVERIFY2(!texts.front().isEmpty(), "empty caption");
    QVERIFY(tab.wordCount() > 0);
    // The image shown is the last dropped; `captioner caption` gives it the same caption (one
    // captioning pipeline and one set of decoding defaults behind both).
    const test::Run cli = test::run({"caption", shapes_ + "/images/000002.png", "--model", attention_run_, "--json"});
    QVERIFY2(cli.code == 0, cli.err.c_str());
    const std::string by_cli = nlohmann::json::parse(cli.out).at("captions").at(0).at("text").get<std::string>();
    QCOMPARE(texts.front(), QString::fromStdString(readable_caption(by_cli)));
  }

  // Captions read as prose: punctuation tokens attach to the word before them.
  void captions_are_shown_with_punctuation_attached() {
    QCOMPARE(ui::CaptionTab::readable("three shapes , a red star , a blue circle and a cat ."),
             QString("three shapes, a red star, a blue circle and a cat."));
    QCOMPARE(ui::CaptionTab::readable("a , , b"), QString("a,, b"));
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
    QVERIFY(load(tab, attention_run_));
    tab.setSamplingSeed(17);
    QVERIFY(add_and_wait(tab, {shapes_ + "/images/000003.png"}));
    tab.setMode(QStringLiteral("greedy"));
    const QString greedy = caption_now(tab).value(0);
    QVERIFY(!greedy.isEmpty());
    tab.setMode(QStringLiteral("sample"));
    // Cold (T = 0.05, p^20): samples collapse onto the likeliest captions. Hot (T = 3): nearly
    // uniform over the vocabulary, every sample differs.
    std::set<QString> cold, hot;
    tab.setTemperature(0.05);
    for (int round = 0; round < 3; ++round)
      for (const QString& c : caption_now(tab)) cold.insert(c);
    tab.setTemperature(3.0);
    for (int round = 0; round < 3; ++round)
      for (const QString& c : caption_now(tab)) hot.insert(c);
    QVERIFY2(cold.count(greedy) == 1, qPrintable(greedy));
    QVERIFY2(hot.size() >= cold.size() + 3, qPrintable(QString("cold %1, hot %2").arg(cold.size()).arg(hot.size())));
  }

  void words_show_their_own_maps_and_export() {
    ui::CaptionTab tab;
    QVERIFY(load(tab, attention_run_));
    QVERIFY(add_and_wait(tab, {shapes_ + "/images/000004.png"}));
    QVERIFY(tab.wordCount() >= 2);
    tab.selectWord(0);
    const QImage first = tab.heatmapImage();
    tab.selectWord(1);
    QCOMPARE(tab.selectedWord(), 1);
    QVERIFY(!first.isNull());
    QVERIFY(tab.heatmapImage() != first);
    // ← → step through the words whatever has focus: here the captions list.
    tab.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tab));
    auto* list = tab.findChild<QListWidget*>(QStringLiteral("captionList"));
    QVERIFY(list);
    list->setFocus();
    QTest::keyClick(list, Qt::Key_Right);
    QCOMPARE(tab.selectedWord(), std::min(2, tab.wordCount() - 1));
    QTest::keyClick(list, Qt::Key_Left);
    QCOMPARE(tab.selectedWord(), 1);
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
    QVERIFY(load(tab, lstm_run_));
    QVERIFY(add_and_wait(tab, {shapes_ + "/images/000005.png"}));
    QVERIFY(!tab.captionTexts().isEmpty());
    tab.selectWord(0);
    QCOMPARE(tab.heatmapImage(), QImage(shapes_ + "/images/000005.png").convertToFormat(tab.heatmapImage().format()));
  }

  void bad_files_are_reported_not_fatal() {
    ui::CaptionTab tab;
    QSignalSpy errors(&tab, &ui::CaptionTab::errorOccurred);
    QVERIFY(!load(tab, dir_.path() + "/no-such-run"));
    QCOMPARE(errors.count(), 1);
    QVERIFY(errors.takeFirst().at(0).toString().contains("no-such-run"));
    QVERIFY(load(tab, attention_run_));
    const QString junk = dir_.path() + "/junk.png";
    QFile f(junk);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not an image at all");
    f.close();
    QSignalSpy captioned(&tab, &ui::CaptionTab::captioned);
    QCOMPARE(tab.addImages({junk, shapes_ + "/images/000006.png"}), 1);
    QVERIFY(captioned.wait(60000));
    QVERIFY(errors.count() >= 1);
    QVERIFY(errors.last().at(0).toString().contains("junk.png"));
    QVERIFY(!tab.captionTexts().isEmpty());
  }

  // Loading a model, adding three images and showing a photo never keep the GUI thread busy for
  // more than 50 ms at a stretch: all of it runs on the captioning thread.
  void loading_and_captioning_never_freeze_the_window() {
    ui::CaptionTab tab;
    tab.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tab));
    test::StallMeter meter;
    QVERIFY(load(tab, attention_run_));
    const qint64 after_load = meter.worst();
    QVERIFY(add_and_wait(tab, {shapes_ + "/images/000007.png", shapes_ + "/images/000008.png", shapes_ + "/images/000009.png"}));
    QVERIFY2(tab.unfamiliarNotice().isEmpty(), qPrintable(tab.unfamiliarNotice()));  // a scene like its training data
    const QString photo = QFINDTESTDATA("data/images/astronaut.png");
    QVERIFY(!photo.isEmpty());
    QVERIFY(add_and_wait(tab, {photo}));
    // A photo shown to a Shapes model: said to be unlike its training images.
    QVERIFY(tab.unfamiliarNotice().contains("unlike the images the model was trained on"));
    QVERIFY(!tab.captionTexts().isEmpty());
    QVERIFY(!tab.heatmapImage().isNull());
    qInfo("worst GUI-thread stall: %lld ms loading the model, %lld ms in all (model, 3 images, a photo)",
          static_cast<long long>(after_load), static_cast<long long>(meter.worst()));
    QVERIFY2(meter.worst() <= test::kMaxStallMs, qPrintable(QString("the GUI thread stalled %1 ms").arg(meter.worst())));
  }

  // What is shown is what the model saw: EXIF orientation applied, transparency over white.
  void overlays_follow_exif_orientation_and_flatten_transparency() {
    QImage wide(60, 20, QImage::Format_RGB32);
    wide.fill(Qt::red);
    const QString rotated = dir_.path() + "/rotated.jpg";
    QFile f(rotated);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(jpeg_with_orientation_6(wide));
    f.close();
    QCOMPARE(QImage(rotated).size(), QSize(60, 20));                  // as stored
    QCOMPARE(ui::load_display_image(rotated).size(), QSize(20, 60));  // as shown
    ui::CaptionTab tab;
    QVERIFY(load(tab, lstm_run_));  // no maps: the overlay is the image itself
    QVERIFY(add_and_wait(tab, {rotated}));
    QCOMPARE(tab.heatmapImage().size(), QSize(20, 60));

    QImage clear(8, 8, QImage::Format_ARGB32);
    clear.fill(Qt::transparent);
    const QString transparent = dir_.path() + "/transparent.png";
    QVERIFY(clear.save(transparent));
    const QImage shown = ui::load_display_image(transparent);
    QCOMPARE(QColor(shown.pixel(3, 3)), QColor(Qt::white));
  }
};

QTEST_MAIN(TestGuiCaption)
#include "test_gui_caption.moc"
