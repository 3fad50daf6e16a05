#pragma once
// "Serve this model": the same server as `captioner serve`, started for the Caption tab's model on
// a worker thread (loading the model and encoder there, never on the GUI thread), on port 8080 or
// any free port when 8080 is taken, loopback only. Results come back as queued signals.
#include <QObject>
#include <QPointer>
#include <QString>

#include <memory>

#include <QThread>

namespace captioner::ui {

class ServeController : public QObject {
  Q_OBJECT
 public:
  static constexpr int kPreferredPort = 8080;

  explicit ServeController(QObject* parent = nullptr);
  ~ServeController() override;  // stops the server and waits for its requests in flight

  bool isServing() const { return shared_ != nullptr; }
  QString address() const { return address_; }

 public Q_SLOTS:
  void start(const QString& model_path, int port = kPreferredPort);
  void stop();

 Q_SIGNALS:
  void started(const QString& address);
  void failed(const QString& message);
  void stopped();

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  QPointer<QThread> thread_;  // the server's, while it runs
  QString address_;
};

}  // namespace captioner::ui
