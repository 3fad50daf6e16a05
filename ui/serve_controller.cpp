#include "core/serve/http_server.h"

#include "ui/serve_controller.h"

#include <QMetaObject>
#include <QThread>

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
  if (!thread_) return;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stop_requested = true;
    if (shared_->server) shared_->server->stop();
  }
  thread_->wait();
  delete thread_;
}

void ServeController::start(const QString& model_path, int port) {
  if (thread_) return;
  auto shared = std::make_shared<Shared>();
  shared_ = shared;
  ServeConfig config;
  config.model = model_path.toStdString();
  config.port = port;
  thread_ = QThread::create([this, shared, config] {
    try {
      auto server = std::make_unique<CaptionServer>(config);
      server->bind(/*fallback_to_any=*/true);
      const QString address = QString::fromStdString(server->address());
      CaptionServer* serving = nullptr;
      {
        std::lock_guard<std::mutex> lock(shared->mutex);
        if (!shared->stop_requested) serving = (shared->server = std::move(server)).get();
      }
      if (!serving) return;
      QMetaObject::invokeMethod(this, [this, address] {
        address_ = address;
        Q_EMIT started(address);
      }, Qt::QueuedConnection);
      serving->run();
    } catch (const std::exception& e) {
      const QString message = QString::fromStdString(e.what());
      QMetaObject::invokeMethod(this, [this, message] { Q_EMIT failed(message); }, Qt::QueuedConnection);
    }
  });
  // When the thread ends (stopped, or failed to start), the controller is ready again.
  connect(thread_, &QThread::finished, this, [this] {
    thread_->deleteLater();
    thread_ = nullptr;
    shared_.reset();
    address_.clear();
    Q_EMIT stopped();
  });
  thread_->start();
}

void ServeController::stop() {
  if (!thread_) return;
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->stop_requested = true;
  if (shared_->server) shared_->server->stop();  // returns at once; the thread drains and ends
}

}  // namespace captioner::ui
