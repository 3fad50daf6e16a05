#include "core/serve/http_server.h"

#include "ui/background.h"
#include "ui/serve_controller.h"

#include <QMetaObject>

#include <mutex>

namespace captioner::ui {

// What the GUI thread and the serving thread share: the server, once loaded, and a stop asked
// for before it was.
struct ServeController::Shared {
  std::mutex mutex;
  std::unique_ptr<CaptionServer> server;
  bool stop_requested = false;
};

ServeController::ServeController(QObject* parent) : QObject(parent) {}

ServeController::~ServeController() {
  if (!shared_) return;
  stop();
  if (thread_) thread_->wait();  // its end, queued to this object, is then dropped with it
}

void ServeController::start(const QString& model_path, int port) {
  if (shared_) return;
  auto shared = std::make_shared<Shared>();
  shared_ = shared;
  ServeConfig config;
  config.model = model_path.toStdString();
  config.port = port;
  // When the work ends (stopped, or failed to start), the controller is ready again.
  thread_ = run_off_gui_thread(
      this,
      [this, shared, config] {
        try {
          auto server = std::make_unique<CaptionServer>(config);
          server->bind(/*fallback_to_any=*/true);
          const QString address = QString::fromStdString(server->address());
          CaptionServer* serving = nullptr;
          {
            std::lock_guard<std::mutex> lock(shared->mutex);
            if (!shared->stop_requested) serving = (shared->server = std::move(server)).get();
          }
          if (!serving) return true;
          QMetaObject::invokeMethod(
              this,
              [this, address] {
                address_ = address;
                Q_EMIT started(address);
              },
              Qt::QueuedConnection);
          serving->run();
        } catch (const std::exception& e) {
          const QString message = QString::fromStdString(e.what());
          QMetaObject::invokeMethod(
              this, [this, message] { Q_EMIT failed(message); }, Qt::QueuedConnection);
        }
        return true;
      },
      [this](bool) {
        shared_.reset();
        address_.clear();
        Q_EMIT stopped();
      });
}

void ServeController::stop() {
  if (!shared_) return;
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->stop_requested = true;
  if (shared_->server) shared_->server->stop();  // returns at once; the thread drains and ends
}

}  // namespace captioner::ui
