#include "ui/background.h"

#include <QCoreApplication>

#include <mutex>
#include <set>

namespace captioner::ui {

namespace {

// The job threads that are running, so the application waits for them when it ends instead of
// destroying what they use under them.
struct RunningJobs {
  std::mutex mutex;
  std::set<QThread*> threads;
};

RunningJobs& running_jobs() {
  static RunningJobs jobs;
  return jobs;
}

void wait_for_running_jobs() {
  for (;;) {
    QThread* thread = nullptr;
    {
      std::lock_guard<std::mutex> lock(running_jobs().mutex);
      if (running_jobs().threads.empty()) return;
      thread = *running_jobs().threads.begin();
      running_jobs().threads.erase(thread);
    }
    thread->wait();
  }
}

}  // namespace

void BackgroundJob::run() {
  work_();
  Q_EMIT finished();
}

QPointer<QThread> start_background_job(QObject* context, std::function<void()> work, std::function<void()> done) {
  static const bool waits_at_exit = [] {
    qAddPostRoutine(wait_for_running_jobs);
    return true;
  }();
  (void)waits_at_exit;
  auto* thread = new QThread;
  thread->setObjectName(QStringLiteral("background job"));
  auto* job = new BackgroundJob(std::move(work));
  job->moveToThread(thread);
  QObject::connect(thread, &QThread::started, job, &BackgroundJob::run);
  QObject::connect(job, &BackgroundJob::finished, context, std::move(done), Qt::QueuedConnection);
  // Direct: the thread object lives on the GUI thread, which may be waiting for this thread to end.
  QObject::connect(job, &BackgroundJob::finished, thread, &QThread::quit, Qt::DirectConnection);
  QObject::connect(thread, &QThread::finished, job, &QObject::deleteLater);
  QObject::connect(thread, &QThread::finished, thread, [thread] {
    {
      std::lock_guard<std::mutex> lock(running_jobs().mutex);
      running_jobs().threads.erase(thread);
    }
    thread->deleteLater();
  });
  {
    std::lock_guard<std::mutex> lock(running_jobs().mutex);
    running_jobs().threads.insert(thread);
  }
  thread->start();
  return thread;
}

}  // namespace captioner::ui
