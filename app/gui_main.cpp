// `captioner` without arguments: the desktop app. Opens on the built-in Shapes data the first
// time, so a new user can press Train at once; image files given on the command line (a desktop
// entry's %F) open in the Caption tab.
#include "core/util/runtime.h"

#include <QApplication>
#include <QGuiApplication>
#include <QSettings>
#include <QStringList>
#include <QTimer>

#include <string>
#include <vector>

#include "ui/caption_tab.h"
#include "ui/main_window.h"
#include "ui/training_tab.h"

int run_gui(int argc, char** argv, const std::vector<std::string>& images) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Captioner"));
  QApplication::setApplicationName(QStringLiteral("Captioner"));
  QApplication::setApplicationVersion(QStringLiteral(CAPTIONER_VERSION));
  QGuiApplication::setDesktopFileName(QStringLiteral("captioner"));  // Wayland finds the icon through it
  captioner::configure_threads(0);
  captioner::ui::MainWindow window;
  window.show();
  if (window.trainingTab()->dataset().isEmpty()) QTimer::singleShot(0, &window, [&window] { window.openBuiltInShapes(); });
  if (!images.empty()) {
    QStringList paths;
    for (const auto& image : images) paths << QString::fromStdString(image);
    QTimer::singleShot(0, &window, [&window, paths] { window.openImageFiles(paths); });
  }
  return QApplication::exec();
}
