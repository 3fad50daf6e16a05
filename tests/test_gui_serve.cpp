// File > Serve this model: the desktop app starts `captioner serve`'s server for the Caption
// tab's model off the GUI thread, shows its address, answers over HTTP, and stops.
#include "gui_support.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <QApplication>
#include <QLabel>
#include <QMenu>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QToolButton>
#include <QtTest/QtTest>

#include "core/util/atomic_file.h"
#include "ui/caption_tab.h"
#include "ui/image_list.h"
#include "ui/main_window.h"
#include "ui/recent_files.h"
#include "ui/serve_controller.h"
#include "ui/training_tab.h"

using namespace captioner;

namespace {

// Host and port of an address like http://127.0.0.1:8080/.
std::pair<std::string, int> host_port(const QString& address) {
  const QUrl url(address);
  return {url.host().toStdString(), url.port()};
}

}  // namespace

class TestGuiServe : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString shapes_, run_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    const std::string root = dir_.path().toStdString();
    shapes_ = QString::fromStdString(test::make_shapes_with_features(root, 12));
    run_ = QString::fromStdString(test::train_small_model(shapes_.toStdString(), root + "/att", "attention", 10));
  }

  // The icon is a resource of the static ui library: found once a window exists.
  void the_window_has_its_icon() {
    ui::MainWindow window;
    QVERIFY(QFile::exists(QStringLiteral(":/captioner.svg")));
    QVERIFY(!window.windowIcon().isNull());
    QVERIFY(!window.windowIcon().availableSizes().isEmpty() || !window.windowIcon().pixmap(32, 32).isNull());
  }

  // Help > Where things are names the runs, the built-in data and the settings.
  void the_app_says_where_things_are() {
    ui::MainWindow window;
    const auto places = window.locations();
    QCOMPARE(places.size(), 3);
    QVERIFY(places[0].second.endsWith(QStringLiteral("/runs")));
    QCOMPARE(places[1].second, ui::MainWindow::builtInShapesDir());
    QVERIFY(!places[2].second.isEmpty());
  }

  // File dialogs open where such files are, and never in a folder that does not exist (which a
  // file dialog offers as a file name): a remembered folder that is gone gives way to the app's.
  void dialogs_open_in_folders_that_exist() {
    ui::MainWindow window;
    using Folder = ui::MainWindow::DialogFolder;
    QSettings s;
    for (const char* key : {"folders/images", "folders/dataset", "folders/model", "folders/runs"})
      s.setValue(QLatin1String(key), dir_.path() + QStringLiteral("/gone"));
    QVERIFY(QDir().mkpath(ui::MainWindow::builtInShapesDir()));
    QVERIFY(QDir().mkpath(window.trainingTab()->runsDir()));
    QCOMPARE(window.dialogFolder(Folder::Dataset), ui::MainWindow::builtInShapesDir());
    QCOMPARE(window.dialogFolder(Folder::Runs), window.trainingTab()->runsDir());
    QCOMPARE(window.dialogFolder(Folder::Model), window.trainingTab()->runsDir());
    const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    QCOMPARE(window.dialogFolder(Folder::Images), QFileInfo(pictures).isDir() ? pictures : QDir::homePath());
    s.setValue(QStringLiteral("folders/runs"), dir_.path());
    QCOMPARE(window.dialogFolder(Folder::Runs), dir_.path());
    for (const char* key : {"folders/images", "folders/dataset", "folders/model", "folders/runs"}) s.remove(QLatin1String(key));
  }

  // File > Open Recent lists what was opened, newest first, once each, at most kMax per kind,
  // only what still exists, and opens it again.
  void open_recent_lists_and_reopens() {
    ui::RecentFiles::clear();
    ui::MainWindow window;
    window.fillRecentMenu();
    QCOMPARE(window.recentMenu()->actions().size(), 1);
    QVERIFY(!window.recentMenu()->actions().front()->isEnabled());  // "Nothing opened yet"

    const QString cat = QStringLiteral(CAPTIONER_TEST_DATA "/images/cat.png");
    window.openImageFiles({cat});
    QCOMPARE(ui::RecentFiles::list(ui::RecentFiles::Kind::Images), QStringList{QFileInfo(cat).absoluteFilePath()});
    ui::RecentFiles::add(ui::RecentFiles::Kind::Images, dir_.path() + QStringLiteral("/deleted.png"));
    QCOMPARE(ui::RecentFiles::list(ui::RecentFiles::Kind::Images).size(), 1);  // the missing one is not listed

    QStringList models;
    for (int i = 0; i < ui::RecentFiles::kMax + 2; ++i) {
      models << dir_.path() + QStringLiteral("/model%1.pt").arg(i);
      QFile f(models.back());
      QVERIFY(f.open(QIODevice::WriteOnly));
      ui::RecentFiles::add(ui::RecentFiles::Kind::Model, models.back());
    }
    ui::RecentFiles::add(ui::RecentFiles::Kind::Model, models[5]);  // opened again: first, not twice
    const QStringList listed = ui::RecentFiles::list(ui::RecentFiles::Kind::Model);
    QCOMPARE(listed.size(), ui::RecentFiles::kMax);
    QCOMPARE(listed.front(), models[5]);
    QCOMPARE(listed.count(models[5]), 1);
    QCOMPARE(listed[1], models.back());

    ui::RecentFiles::add(ui::RecentFiles::Kind::Dataset, shapes_ + QStringLiteral("/dataset.json"), dir_.path());
    QCOMPARE(ui::RecentFiles::imageDir(shapes_ + QStringLiteral("/dataset.json")), dir_.path());

    // The menu offers them; choosing the image opens it in the Caption tab.
    window.fillRecentMenu();
    QAction* image = nullptr;
    int entries = 0;
    for (QAction* action : window.recentMenu()->actions()) {
      if (action->data().toString() == QFileInfo(cat).absoluteFilePath()) image = action;
      if (!action->data().toString().isEmpty()) ++entries;
    }
    QCOMPARE(entries, 1 + ui::RecentFiles::kMax + 1);
    QVERIFY(image);
    ui::MainWindow other;
    other.fillRecentMenu();
    for (QAction* action : other.recentMenu()->actions())
      if (action->data() == image->data()) action->trigger();
    QCOMPARE(other.tabs()->currentWidget(), static_cast<QWidget*>(other.captionTab()));
    QCOMPARE(other.captionTab()->findChild<ui::ImageList*>()->count(), 1);
    ui::RecentFiles::clear();
    QVERIFY(ui::RecentFiles::list(ui::RecentFiles::Kind::Model).isEmpty());
  }

  // Image files given on the command line open in the Caption tab.
  void image_files_open_in_the_caption_tab() {
    ui::MainWindow window;
    window.openImageFiles({QStringLiteral(CAPTIONER_TEST_DATA "/images/cat.png")});
    QCOMPARE(window.tabs()->currentWidget(), static_cast<QWidget*>(window.captionTab()));
    auto* images = window.captionTab()->findChild<ui::ImageList*>();
    QVERIFY(images);
    QCOMPARE(images->count(), 1);
    QVERIFY(images->current().endsWith(QStringLiteral("cat.png")));
  }

  void serving_without_a_model_says_so() {
    ui::MainWindow window;
    window.toggleServing();
    QVERIFY(!window.serveController()->isServing());
    bool said = false;  // in the error banner
    for (auto* label : window.findChildren<QLabel*>())
      said = said || (label->isVisibleTo(&window) && label->text().contains("no model to serve"));
    QVERIFY(said);
    // The banner goes away when dismissed.
    auto* banner = window.findChild<QWidget*>(QStringLiteral("errorBanner"));
    QVERIFY(banner && banner->isVisibleTo(&window));
    window.findChild<QToolButton*>(QStringLiteral("dismissError"))->click();
    QVERIFY(!banner->isVisibleTo(&window));
  }

  void the_served_model_answers_and_stops() {
    ui::MainWindow window;
    QSignalSpy loaded(window.captionTab(), &ui::CaptionTab::modelLoaded);
    window.captionTab()->loadModel(run_);
    QVERIFY(loaded.wait(60000) && loaded.front().at(1).toBool());
    QSignalSpy started(window.serveController(), &ui::ServeController::started);
    window.toggleServing();
    QVERIFY(started.wait(120000));
    const QString address = started.at(0).at(0).toString();
    QVERIFY2(address.startsWith("http://127.0.0.1:"), qPrintable(address));
    QVERIFY(window.servingLabel()->isVisibleTo(&window));
    QVERIFY(window.servingLabel()->text().contains(address));

    const auto [host, port] = host_port(address);
    httplib::Client client(host, port);
    client.set_read_timeout(120);
    const auto health = client.Get("/healthz");
    QVERIFY(health && health->status == 200);
    QCOMPARE(nlohmann::json::parse(health->body)["model"].get<std::string>(), std::string("att"));
    const auto caption = client.Post("/caption", read_file((shapes_ + "/images/000001.png").toStdString()), "image/png");
    QVERIFY(caption && caption->status == 200);
    QVERIFY(!nlohmann::json::parse(caption->body)["generated_text"].get<std::string>().empty());

    QSignalSpy stopped(window.serveController(), &ui::ServeController::stopped);
    window.toggleServing();
    QVERIFY(stopped.wait(60000));
    QVERIFY(!window.serveController()->isServing());
    QVERIFY(!window.servingLabel()->isVisibleTo(&window));
    httplib::Client after(host, port);
    QVERIFY(!after.Get("/healthz"));  // nothing listens any more
  }

  // Two servers at once: the second finds the preferred port taken and takes another.
  void a_taken_port_gives_way_to_a_free_one() {
    ui::ServeController first, second;
    QSignalSpy first_started(&first, &ui::ServeController::started);
    QSignalSpy second_started(&second, &ui::ServeController::started);
    first.start(run_);
    QVERIFY(first_started.wait(120000));
    second.start(run_, host_port(first.address()).second);
    QVERIFY(second_started.wait(120000));
    QVERIFY(first.address() != second.address());
    for (auto* server : {&first, &second}) {
      const auto [host, port] = host_port(server->address());
      httplib::Client client(host, port);
      const auto r = client.Get("/healthz");
      QVERIFY(r && r->status == 200);
    }
  }

  void a_model_that_cannot_load_is_reported() {
    ui::ServeController controller;
    QSignalSpy failed(&controller, &ui::ServeController::failed);
    QSignalSpy stopped(&controller, &ui::ServeController::stopped);
    controller.start(dir_.path() + "/no_such_run");
    QVERIFY(failed.wait(60000));
    QVERIFY(failed.at(0).at(0).toString().contains("no_such_run"));
    QVERIFY(stopped.count() == 1 || stopped.wait(60000));
    QVERIFY(!controller.isServing());
  }
};

QTEST_MAIN(TestGuiServe)
#include "test_gui_serve.moc"
