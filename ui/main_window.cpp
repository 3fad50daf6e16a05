#include "core/data/dataset.h"
#include "core/data/shapes.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/util/runtime.h"
#include "core/vision/background_photos.h"

#include <opencv2/core/version.hpp>

#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFrame>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressDialog>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include <atomic>
#include <functional>

#include "ui/background.h"
#include "ui/caption_tab.h"
#include "ui/loss_plot.h"
#include "ui/recent_files.h"
#include "ui/serve_controller.h"
#include "ui/training_tab.h"

// The window icon is in ui.qrc, compiled into the static ui library: its resources are registered
// only when asked for by name.
static void registerUiResources() { Q_INIT_RESOURCE(ui); }

namespace captioner::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("Captioner"));
  registerUiResources();
  setWindowIcon(QIcon(QStringLiteral(":/captioner.svg")));
  tabs_ = new QTabWidget(this);
  training_ = new TrainingTab(this);
  caption_ = new CaptionTab(this);
  tabs_->addTab(training_, tr("&Training"));
  tabs_->addTab(caption_, tr("&Caption"));
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(buildErrorBanner());
  layout->addWidget(tabs_, 1);
  setCentralWidget(central);
  connectTabs();
  connectServing();
  buildMenus();

  QSettings s;
  restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
  training_->loadSettings();
  caption_->loadSettings();
  resize(s.contains(QStringLiteral("window/geometry")) ? size() : QSize(1280, 820));
  statusBar()->showMessage(QString::fromStdString(runtime_summary(resolve_device("auto"))));
}

// The error banner: the message and a button that dismisses it.
QWidget* MainWindow::buildErrorBanner() {
  banner_box_ = new QFrame(this);
  banner_box_->setObjectName(QStringLiteral("errorBanner"));
  banner_box_->setStyleSheet(
      QStringLiteral("#errorBanner { background: #fde2e1; border-radius: 3px; } QLabel { color: #611a15; }"));
  banner_box_->setVisible(false);
  banner_ = new QLabel(banner_box_);
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  // A long message wraps within the window's width instead of widening it.
  banner_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  banner_->setMinimumWidth(200);
  auto* dismiss = new QToolButton(banner_box_);
  dismiss->setObjectName(QStringLiteral("dismissError"));
  dismiss->setText(QStringLiteral("✕"));
  dismiss->setAutoRaise(true);
  dismiss->setToolTip(tr("Dismiss"));
  connect(dismiss, &QToolButton::clicked, banner_box_, &QWidget::hide);
  auto* banner_row = new QHBoxLayout(banner_box_);
  banner_row->setContentsMargins(6, 4, 4, 4);
  banner_row->addWidget(banner_, 1);
  banner_row->addWidget(dismiss, 0, Qt::AlignTop);
  return banner_box_;
}

// What the tabs tell each other, and the window's status bar.
void MainWindow::connectTabs() {
  connect(training_, &TrainingTab::errorOccurred, this, &MainWindow::showError);
  connect(caption_, &CaptionTab::errorOccurred, this, &MainWindow::showError);
  connect(training_, &TrainingTab::trainingFinished, this, [this](const QString& run_dir, bool /*ok: the folder says*/) {
    const bool saved = RunFolder(run_dir.toStdString()).has_checkpoint();
    // A model the user chose stays in the Caption tab; the new run is only offered.
    if (saved && !caption_->hasModel()) {
      caption_->loadModel(run_dir);
      statusBar()->showMessage(tr("Training saved in %1; the Caption tab uses it").arg(run_dir), 8000);
    } else {
      statusBar()->showMessage(saved ? tr("Training saved in %1 (the Caption tab keeps its model: Preview or "
                                          "File > Open model switches)")
                                           .arg(run_dir)
                                     : tr("Training stopped before its first checkpoint"),
                               8000);
    }
  });
  connect(training_, &TrainingTab::openImageRequested, this, [this](const QString& path) {
    tabs_->setCurrentWidget(caption_);
    caption_->addImages({path});
  });
  connect(training_, &TrainingTab::previewRequested, this, [this](const QString& run_dir) {
    caption_->loadModel(run_dir);
    tabs_->setCurrentWidget(caption_);
  });
  connect(caption_, &CaptionTab::modelLoaded, this, [this](const QString& path, bool ok) {
    if (ok) statusBar()->showMessage(tr("The Caption tab now uses %1").arg(QDir::toNativeSeparators(path)), 8000);
  });
  // The run's state stays in the status bar (a permanent widget: menus' tips do not clear it).
  training_label_ = new QLabel(this);
  training_label_->setObjectName(QStringLiteral("trainingState"));
  training_label_->setVisible(false);
  statusBar()->addPermanentWidget(training_label_);
  connect(training_, &TrainingTab::stateChanged, this, [this](RunState state) {
    training_label_->setText(tr("Training: %1").arg(run_state_name(state)));
    training_label_->setVisible(true);
    tabs_->setTabText(tabs_->indexOf(training_), state == RunState::Running ? tr("&Training (running)") : tr("&Training"));
  });
}

// File > Serve this model: the controller, its address in the status bar, the menu item's text.
void MainWindow::connectServing() {
  serve_ = new ServeController(this);
  serving_label_ = new QLabel(this);
  serving_label_->setOpenExternalLinks(true);
  serving_label_->setVisible(false);
  statusBar()->addPermanentWidget(serving_label_);
  connect(serve_, &ServeController::started, this, [this](const QString& address) {
    statusBar()->clearMessage();  // "Loading … for serving…" is over
    serving_label_->setText(tr("Serving at <a href=\"%1\">%1</a>").arg(address));
    serving_label_->setToolTip(tr("OpenAI chat completions at %1v1/chat/completions, image bytes at %1caption, "
                                  "a web page at %1")
                                   .arg(address));
    serving_label_->setVisible(true);
    serve_action_->setText(tr("Stop &serving"));
    serve_action_->setEnabled(true);
  });
  connect(serve_, &ServeController::failed, this,
          [this](const QString& message) { showError(tr("Could not serve the model: %1").arg(message)); });
  connect(serve_, &ServeController::stopped, this, [this] {
    serving_label_->setVisible(false);
    serve_action_->setText(tr("&Serve this model over HTTP"));
    serve_action_->setEnabled(true);
  });
}

MainWindow::~MainWindow() {
  if (cancel_shapes_) *cancel_shapes_ = true;  // a generation still running stops soon, not at exit
}

QString MainWindow::builtInShapesDir() {
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/shapes");
}

void MainWindow::openBuiltInShapes() {
  const QString dir = builtInShapesDir();
  if (QFileInfo::exists(dir + QStringLiteral("/dataset.json"))) {
    training_->setDataset(dir);
    return;
  }
  if (cancel_shapes_) return;  // asked again while it is being made
  const int count = static_cast<int>(built_in_shapes_options().count);
  cancel_shapes_ = std::make_shared<std::atomic<bool>>(false);
  // Not modal: a modal progress dialog runs the event loop inside setValue. The generation runs
  // off the GUI thread; a timer shows its progress.
  auto* progress = new QProgressDialog(tr("Generating the built-in Shapes dataset…"), tr("Cancel"), 0, count, this);
  progress->setMinimumDuration(0);
  progress->setAutoClose(false);
  progress->setAutoReset(false);
  auto done = std::make_shared<std::atomic<int>>(0);
  auto unreadable_photos = std::make_shared<QStringList>();  // written by the worker, read when it is done
  const auto cancel = cancel_shapes_;
  connect(progress, &QProgressDialog::canceled, progress, [cancel] { *cancel = true; });
  auto* ticker = new QTimer(progress);
  connect(ticker, &QTimer::timeout, progress, [progress, done] { progress->setValue(done->load()); });
  ticker->start(100);
  progress->show();
  run_off_gui_thread(
      this,
      [dir, done, cancel, unreadable_photos]() -> QString {
        try {
          ShapesOptions o = built_in_shapes_options();
          for (const auto& reason : load_packaged_background_photos(o).left_out)
            unreadable_photos->append(QString::fromStdString(reason));
          write_shapes_dataset(dir.toStdString(), o, [&](int64_t d, int64_t) {
            *done = static_cast<int>(d);
            return !cancel->load();
          });
        } catch (const std::exception& e) {
          return QString::fromStdString(e.what());
        }
        return QString();
      },
      [this, dir, progress, cancel, unreadable_photos](const QString& error) {
        progress->deleteLater();
        cancel_shapes_.reset();
        if (!error.isEmpty()) {
          showError(tr("Could not generate the Shapes dataset: %1").arg(error));
        } else if (cancel->load()) {
          showError(
              tr("No dataset: the built-in Shapes data was not generated. File > Open built-in Shapes makes it "
                 "(about 20 seconds); File > Open dataset opens another."));
        } else {
          training_->setDataset(dir);
          if (!unreadable_photos->isEmpty())
            showError(tr("The built-in Shapes data was made without these photos, which could not be read: %1")
                          .arg(unreadable_photos->join(QStringLiteral("; "))));
        }
      });
}

void MainWindow::openImageFiles(const QStringList& paths) {
  tabs_->setCurrentWidget(caption_);
  if (caption_->addImages(paths) == 0) {
    showError(tr("None of these files is an image Captioner can read: %1").arg(paths.join(QStringLiteral(", "))));
    return;
  }
  for (auto it = paths.rbegin(); it != paths.rend(); ++it)  // the first given ends first in the list
    if (QFileInfo(*it).isFile()) RecentFiles::add(RecentFiles::Kind::Images, *it);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open &dataset…"), this, &MainWindow::openDataset)->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
  file->addAction(tr("Open built-in &Shapes"), this, [this] { openBuiltInShapes(); });
  file->addAction(tr("Open &model…"), this, &MainWindow::openModel);
  file->addAction(tr("&Continue a run from a folder…"), this, &MainWindow::continueRunFromFolder)
      ->setToolTip(tr("Train a run folder further, wherever it is; runs in the Runs list: Continue training there"));
  file->addAction(tr("&Open images…"), this, &MainWindow::openImages)->setShortcut(QKeySequence::Open);
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  connect(recent_menu_, &QMenu::aboutToShow, this, &MainWindow::fillRecentMenu);
  file->addAction(tr("Save model &as…"), this, &MainWindow::saveModelAs)->setShortcut(QKeySequence::SaveAs);
  buildExportMenu(file->addMenu(tr("&Export")));
  serve_action_ = file->addAction(tr("&Serve this model over HTTP"), this, &MainWindow::toggleServing);
  file->addSeparator();
  file->addAction(tr("&Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->addAction(tr("&Paste image"), this,
                  [this] {
                    tabs_->setCurrentWidget(caption_);
                    if (caption_->addMimeData(QApplication::clipboard()->mimeData()) == 0)
                      showError(tr("The clipboard holds no image or image file."));
                  })
      ->setShortcut(QKeySequence::Paste);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("&Training"), this, [this] { tabs_->setCurrentWidget(training_); })->setShortcut(QKeySequence(tr("Ctrl+1")));
  view->addAction(tr("&Caption"), this, [this] { tabs_->setCurrentWidget(caption_); })->setShortcut(QKeySequence(tr("Ctrl+2")));
  QAction* log_scale = view->addAction(tr("&Logarithmic loss axis"));
  log_scale->setObjectName(QStringLiteral("logAxisAction"));
  log_scale->setCheckable(true);
  log_scale->setChecked(training_->plot()->logY());
  // One setting, two controls: the menu and the plot's check box follow each other.
  connect(log_scale, &QAction::toggled, training_->plot(), &LossPlot::setLogY);
  connect(training_->plot(), &LossPlot::logYChanged, log_scale, &QAction::setChecked);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Where things are"), this, &MainWindow::showLocations);
  help->addAction(tr("&About Captioner"), this, &MainWindow::about);
}

void MainWindow::buildExportMenu(QMenu* menu) {
  // Asks for a file and writes it with `write`; says so when that fails.
  auto add = [this, menu](const QString& label, const QString& title, const QString& name, const QString& filter,
                          const QString& failure, const std::function<bool(const QString&)>& write) {
    menu->addAction(label, this, [=] {
      const QString path = QFileDialog::getSaveFileName(this, title, name, filter);
      if (path.isEmpty()) return;
      if (write(path))
        statusBar()->showMessage(tr("Wrote %1").arg(QDir::toNativeSeparators(path)), 8000);
      else
        showError(failure.arg(path));
    });
  };
  add(tr("Loss curves as &PNG…"), tr("Export the loss plot"), QStringLiteral("loss.png"), tr("PNG (*.png)"),
      tr("%1: cannot write the image"), [this](const QString& p) { return training_->plot()->exportPng(p); });
  add(tr("Loss curves as &SVG…"), tr("Export the loss plot"), QStringLiteral("loss.svg"), tr("SVG (*.svg)"),
      tr("%1: cannot write the image"), [this](const QString& p) { return training_->plot()->exportSvg(p); });
  add(tr("Shown curves as &CSV…"), tr("Export the shown series"), QStringLiteral("loss.csv"), tr("CSV (*.csv)"),
      tr("%1: cannot write the file"), [this](const QString& p) { return training_->plot()->exportCsv(p); });
  add(tr("Attention &strip as PNG…"), tr("Export the attention strip"), QStringLiteral("attention.png"), tr("PNG (*.png)"),
      tr("%1: nothing to export, or the file cannot be written"), [this](const QString& p) { return caption_->exportStrip(p); });
  add(tr("Captions and maps as &JSON…"), tr("Export the captions"), QStringLiteral("captions.json"), tr("JSON (*.json)"),
      tr("%1: cannot write the file"), [this](const QString& p) { return caption_->exportJson(p); });
}

void MainWindow::openDataset() {
  const QString path = QFileDialog::getOpenFileName(this,
                                                    tr("Open a dataset (dataset.json, COCO captions JSON, or "
                                                       "captions_tokenized.json of a handout folder)"),
                                                    dialogFolder(DialogFolder::Dataset), tr("Datasets (*.json)"));
  if (path.isEmpty()) return;
  QSettings().setValue(QStringLiteral("folders/dataset"), QFileInfo(path).absolutePath());
  openDatasetFile(path, QString());
}

void MainWindow::openDatasetFile(const QString& path, QString image_dir) {
  const QFileInfo info(path);
  // A handout folder or a folder with its dataset.json is opened as the folder.
  if (info.fileName() == QLatin1String("captions_tokenized.json")) {
    training_->setDataset(info.absolutePath());
  } else {
    // A COCO / Karpathy file whose images are not beside it: ask where they are.
    if (image_dir.isEmpty()) {
      try {
        const CaptionDataset ds = read_dataset(path.toStdString());
        if (!ds.images.empty() && !QFileInfo::exists(QString::fromStdString(ds.image_root + "/" + ds.images.front().file))) {
          image_dir = QFileDialog::getExistingDirectory(this, tr("Folder with this dataset's images"),
                                                        dialogFolder(DialogFolder::Images));
          if (image_dir.isEmpty()) return;
          QSettings().setValue(QStringLiteral("folders/images"), image_dir);
        }
      } catch (const std::exception&) {
        // read again by the tab, which reports the problem
      }
    }
    training_->setDataset(info.fileName() == QLatin1String("dataset.json") && image_dir.isEmpty() ? info.absolutePath() : path,
                          image_dir);
  }
  RecentFiles::add(RecentFiles::Kind::Dataset, path, image_dir);
  tabs_->setCurrentWidget(training_);
}

void MainWindow::fillRecentMenu() {
  recent_menu_->clear();
  bool any = false;
  auto section = [this, &any](const QString& title, RecentFiles::Kind kind, const std::function<void(const QString&)>& open) {
    const QStringList paths = RecentFiles::list(kind);
    if (paths.isEmpty()) return;
    any = true;
    recent_menu_->addSection(title);
    for (const QString& path : paths) {
      const QFileInfo info(path);
      QAction* action = recent_menu_->addAction(info.dir().dirName() + QStringLiteral("/") + info.fileName(), this,
                                                [open, path] { open(path); });
      action->setData(path);
      action->setToolTip(path);
    }
  };
  section(tr("Models"), RecentFiles::Kind::Model, [this](const QString& path) { openModelFile(path); });
  section(tr("Datasets"), RecentFiles::Kind::Dataset,
          [this](const QString& path) { openDatasetFile(path, RecentFiles::imageDir(path)); });
  section(tr("Images"), RecentFiles::Kind::Images, [this](const QString& path) { openImageFiles({path}); });
  if (!any) {
    recent_menu_->addAction(tr("Nothing opened yet"))->setEnabled(false);
    return;
  }
  recent_menu_->addSeparator();
  recent_menu_->addAction(tr("Clear this list"), this, [] { RecentFiles::clear(); });
}

QString MainWindow::dialogFolder(DialogFolder kind) const {
  QString setting, fallback;
  switch (kind) {
    case DialogFolder::Images:
      setting = QStringLiteral("folders/images");
      fallback = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
      break;
    case DialogFolder::Dataset:
      setting = QStringLiteral("folders/dataset");
      fallback = builtInShapesDir();
      break;
    case DialogFolder::Model:
      setting = QStringLiteral("folders/model");
      fallback = training_->runsDir();
      break;
    case DialogFolder::Runs:
      setting = QStringLiteral("folders/runs");
      fallback = training_->runsDir();
      break;
  }
  // A folder that does not exist would be offered as a file name: the next candidate instead.
  for (const QString& candidate : {QSettings().value(setting).toString(), fallback})
    if (!candidate.isEmpty() && QFileInfo(candidate).isDir()) return candidate;
  return QDir::homePath();
}

void MainWindow::continueRunFromFolder() {
  if (training_->isTraining()) {
    showError(tr("A run is training: stop it before continuing another."));
    return;
  }
  if (training_->dataset().isEmpty()) {
    showError(tr("Open the dataset the run was trained on first (File > Open dataset), then continue it."));
    return;
  }
  QSettings s;
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Run folder to continue"), dialogFolder(DialogFolder::Runs));
  if (dir.isEmpty()) return;
  s.setValue(QStringLiteral("folders/runs"), QFileInfo(dir).absolutePath());
  tabs_->setCurrentWidget(training_);
  training_->resumeRun(dir);
}

void MainWindow::openModel() {
  QSettings s;
  const QString path = QFileDialog::getOpenFileName(this, tr("Open a model (checkpoint.pt in a run folder)"),
                                                    dialogFolder(DialogFolder::Model), tr("Checkpoints (*.pt)"));
  if (path.isEmpty()) return;
  s.setValue(QStringLiteral("folders/model"), QFileInfo(path).absolutePath());
  openModelFile(path);
}

void MainWindow::openModelFile(const QString& path) {
  caption_->loadModel(path);
  RecentFiles::add(RecentFiles::Kind::Model, path);
  tabs_->setCurrentWidget(caption_);
}

void MainWindow::toggleServing() {
  if (serve_->isServing()) {
    serve_action_->setEnabled(false);  // until the requests in flight are answered
    serve_->stop();
    return;
  }
  const QString model = caption_->modelPath();
  if (model.isEmpty()) {
    showError(tr("There is no model to serve yet: train one, or open one with File > Open model."));
    return;
  }
  serve_action_->setEnabled(false);  // until the model is loaded and the port bound
  statusBar()->showMessage(tr("Loading %1 for serving…").arg(model));
  serve_->start(model);
}

void MainWindow::openImages() {
  QSettings s;
  const QStringList paths = QFileDialog::getOpenFileNames(this, tr("Open images"), dialogFolder(DialogFolder::Images),
                                                          tr("Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"));
  if (paths.isEmpty()) return;
  s.setValue(QStringLiteral("folders/images"), QFileInfo(paths.front()).absolutePath());
  openImageFiles(paths);
}

void MainWindow::saveModelAs() {
  const QString run = training_->lastRunDir().isEmpty() ? caption_->modelPath() : training_->lastRunDir();
  const QString source = QString::fromStdString(model_checkpoint_file(run.toStdString()));
  if (!QFileInfo::exists(source)) {
    showError(tr("There is no model to save yet: train one first."));
    return;
  }
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Save model as"), QStringLiteral("model.pt"), tr("Checkpoints (*.pt)"));
  if (path.isEmpty()) return;
  QFile::remove(path);
  if (!QFile::copy(source, path)) showError(tr("%1: cannot write the model there").arg(path));
}

void MainWindow::about() {
  QMessageBox::about(this, tr("About Captioner"),
                     tr("<b>Captioner %1</b><br>Train image-captioning models and see where they look.<br><br>"
                        "%2<br>Qt %3, OpenCV %4<br><br>"
                        "Captioner is free software under the GNU General Public License, version 3 or later. "
                        "It uses Qt (LGPL-3), LibTorch (BSD-3-Clause), OpenCV (Apache-2.0), QCustomPlot (GPL-3) "
                        "and the Inception-v3 weights of nsfwjs (MIT).")
                         .arg(QStringLiteral(CAPTIONER_VERSION), QString::fromStdString(runtime_summary(resolve_device("auto"))),
                              QString::fromLatin1(qVersion()), QStringLiteral(CV_VERSION)));
}

QList<QPair<QString, QString>> MainWindow::locations() const {
  return {{tr("Training runs"), training_->runsDir()},
          {tr("Built-in Shapes data"), builtInShapesDir()},
          {tr("Settings"), QSettings().fileName()}};
}

void MainWindow::showLocations() {
  QDialog dialog(this);
  dialog.setWindowTitle(tr("Where things are"));
  auto* grid = new QGridLayout(&dialog);
  int row = 0;
  for (const auto& [what, path] : locations()) {
    grid->addWidget(new QLabel(what, &dialog), row, 0);
    auto* shown = new QLabel(QDir::toNativeSeparators(path), &dialog);
    shown->setTextInteractionFlags(Qt::TextSelectableByMouse);
    grid->addWidget(shown, row, 1);
    auto* open = new QPushButton(tr("Open folder"), &dialog);
    const QString folder = QFileInfo(path).isDir() ? path : QFileInfo(path).absolutePath();
    open->setEnabled(QFileInfo::exists(folder));
    connect(open, &QPushButton::clicked, &dialog, [folder] { QDesktopServices::openUrl(QUrl::fromLocalFile(folder)); });
    grid->addWidget(open, row++, 2);
  }
  auto* close = new QDialogButtonBox(QDialogButtonBox::Close, &dialog);
  connect(close, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  grid->addWidget(close, row, 0, 1, 3);
  dialog.exec();
}

void MainWindow::showError(const QString& text) {
  qWarning("%s", qPrintable(text));
  banner_->setText(text);
  banner_box_->setVisible(true);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (training_->isTraining()) {
    const auto answer = QMessageBox::question(this, tr("Training is running"),
                                              tr("Stop training and quit? The run is saved and can be resumed."));
    if (answer != QMessageBox::Yes) {
      event->ignore();
      return;
    }
  }
  training_->stopAndWait();
  QSettings s;
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  training_->saveSettings();
  caption_->saveSettings();
  event->accept();
}

}  // namespace captioner::ui
