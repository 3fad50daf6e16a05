#pragma once
// The main window: Training and Caption tabs, menus with standard shortcuts, an error banner
// (plain words, what and how to fix, never a crash), remembered geometry and choices, and the
// built-in Shapes data generated on first launch.
#include <QList>
#include <QMainWindow>
#include <QPair>
#include <QString>
#include <QStringList>

#include <atomic>
#include <memory>

class QAction;
class QFrame;
class QLabel;
class QMenu;
class QTabWidget;

namespace captioner::ui {

class CaptionTab;
class ServeController;
class TrainingTab;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  TrainingTab* trainingTab() const { return training_; }
  CaptionTab* captionTab() const { return caption_; }
  QTabWidget* tabs() const { return tabs_; }
  ServeController* serveController() const { return serve_; }
  QLabel* servingLabel() const { return serving_label_; }
  // File > Serve this model: starts the service for the Caption tab's model, or stops it.
  void toggleServing();
  // Generates the built-in Shapes dataset if it is missing (with a progress dialog) and opens it.
  void openBuiltInShapes();
  static QString builtInShapesDir();
  // Opens image files in the Caption tab (files given on the command line).
  void openImageFiles(const QStringList& paths);
  // Where the app keeps its runs, its built-in data and its settings (Help > Where things are).
  QList<QPair<QString, QString>> locations() const;
  // The folder a file dialog opens in: the last one used for that kind of file while it exists,
  // else where the app keeps such files (images: Pictures, or home without one).
  enum class DialogFolder { Images, Dataset, Model, Runs };
  QString dialogFolder(DialogFolder kind) const;
  // File > Open Recent; filled from RecentFiles each time it opens (fillRecentMenu).
  QMenu* recentMenu() const { return recent_menu_; }
  void fillRecentMenu();

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  QWidget* buildErrorBanner();
  void connectTabs();
  void connectServing();
  void buildMenus();
  void buildExportMenu(QMenu* menu);
  void openDataset();
  void openModel();
  void openModelFile(const QString& path);
  void openDatasetFile(const QString& path, QString image_dir);
  void continueRunFromFolder();
  void openImages();
  void saveModelAs();
  void showError(const QString& text);
  void about();
  void showLocations();

  QTabWidget* tabs_;
  TrainingTab* training_;
  CaptionTab* caption_;
  QFrame* banner_box_;
  QLabel* banner_;
  ServeController* serve_;
  QAction* serve_action_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QLabel* serving_label_;                             // the address being served, in the status bar
  QLabel* training_label_;                            // the run's state, in the status bar
  std::shared_ptr<std::atomic<bool>> cancel_shapes_;  // while the built-in data is being generated
};

}  // namespace captioner::ui
