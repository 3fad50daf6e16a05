// `captioner` without arguments: the desktop app. Opens on the built-in Shapes data the first
// time, so a new user can press Train at once.
#include "core/util/runtime.h"

#include <QApplication>
#include <QSettings>
#include <QTimer>

#include "ui/main_window.h"
#include "ui/training_tab.h"

int run_gui(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Captioner"));
  QApplication::setApplicationName(QStringLiteral("Captioner"));
  QApplication::setApplicationVersion(QStringLiteral(CAPTIONER_VERSION));
  captioner::configure_threads(0);
  captioner::ui::MainWindow window;
  window.show();
  if (window.trainingTab()->dataset().isEmpty())
    QTimer::singleShot(0, &window, [&window] { window.openBuiltInShapes(); });
  return QApplication::exec();
}
