// `captioner-desktop`, the desktop app (what `captioner` alone runs). A program of its own, so that
// `captioner` needs no Qt on a server. Opens on the built-in Shapes data the first time, so a new
// user can press Train at once; image files given on the command line (a desktop entry's %F)
// open in the Caption tab.
#include <filesystem>
#include <iostream>

#include <QApplication>
#include <QGuiApplication>
#include <QSettings>
#include <QStringList>
#include <QTimer>

#include <string>
#include <vector>

#include "core/util/runtime.h"
#include "ui/caption_tab.h"
#include "ui/main_window.h"
#include "ui/training_tab.h"

int main(int argc, char** argv) {
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::error_code ec;
    if (arg == "--version") {
      std::cout << "captioner-desktop " << CAPTIONER_VERSION << '\n';
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      std::cout << "Usage: captioner-desktop [IMAGE...]\nThe Captioner desktop app; `captioner --help` for the command line.\n";
      return 0;
    }
    if (!std::filesystem::is_regular_file(arg, ec)) {
      std::cerr << "captioner-desktop: " << arg << " is not an image file (usage: captioner-desktop [IMAGE...])\n";
      return 2;
    }
    images.push_back(arg);
  }
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Captioner"));
  QApplication::setApplicationName(QStringLiteral("Captioner"));
  QApplication::setApplicationVersion(QStringLiteral(CAPTIONER_VERSION));
  QGuiApplication::setDesktopFileName(QStringLiteral("captioner"));  // Wayland finds the icon through it
  captioner::configure_threads(0);
  captioner::keep_freed_memory();
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
