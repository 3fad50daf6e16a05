#pragma once
// The desktop app's one way to work off the GUI thread: a worker object on a QThread, talking to
// widgets through queued signals. Long-lived workers (training, captioning) are QObjects their tab
// moves to a thread of their own; one-shot work (reading a dataset or a history, evaluating,
// generating the built-in data, serving) goes through run_off_gui_thread, which builds the same
// thing for one function: `work` runs on a new thread, and `done` receives its result on
// `context`'s thread through a queued signal, unless `context` has been destroyed by then. `work`
// must not throw: it reports a failure in its result. The thread deletes itself when the work is
// done; the pointer returned lets an owner wait for it (it is null once the thread is gone).
// Threads still running when the application object is destroyed are waited for.
#include <QObject>
#include <QPointer>
#include <QThread>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace captioner::ui {

class BackgroundJob : public QObject {
  Q_OBJECT
 public:
  explicit BackgroundJob(std::function<void()> work) : work_(std::move(work)) {}
  void run();

 Q_SIGNALS:
  void finished();

 private:
  std::function<void()> work_;
};

QPointer<QThread> start_background_job(QObject* context, std::function<void()> work, std::function<void()> done);

template <typename Work, typename Done>
QPointer<QThread> run_off_gui_thread(QObject* context, Work work, Done done) {
  using Result = std::invoke_result_t<Work>;
  auto result = std::make_shared<std::optional<Result>>();
  return start_background_job(
      context, [result, work = std::move(work)]() mutable { result->emplace(work()); },
      [result, done = std::move(done)]() mutable { done(std::move(**result)); });
}

}  // namespace captioner::ui
