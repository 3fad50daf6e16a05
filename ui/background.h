#pragma once
// Work that must not run on the GUI thread (reading datasets, loading models, decoding and
// encoding images): `work` runs on Qt's thread pool and `done` receives its result on the GUI
// thread, through the event loop, unless `context` has been destroyed by then. `work` must not
// throw: it reports a failure in its result.
#include <QFutureWatcher>
#include <QObject>
#include <QtConcurrent/QtConcurrentRun>

#include <type_traits>
#include <utility>

namespace captioner::ui {

template <typename Work, typename Done>
void run_off_gui_thread(QObject* context, Work work, Done done) {
  using Result = std::invoke_result_t<Work>;
  auto* watcher = new QFutureWatcher<Result>(context);
  QObject::connect(watcher, &QFutureWatcher<Result>::finished, context, [watcher, done = std::move(done)] {
    done(watcher->result());
    watcher->deleteLater();
  });
  watcher->setFuture(QtConcurrent::run(std::move(work)));
}

}  // namespace captioner::ui
