#include "core/data/tokenizer.h"
#include "core/eval/run_evaluation.h"
#include "core/train/run_summary.h"
#include "core/util/atomic_file.h"
#include "core/util/duration.h"

#include <nlohmann/json.hpp>

#include "ui/evaluator.h"
#include "ui/feature_cache_location.h"

#include <QThread>

#include <algorithm>

namespace captioner::ui {

namespace {

constexpr int kWorstKept = 24;

// The report's JSON with the worst-captioned images: on Shapes those whose caption does not name
// the scene's objects exactly first, then by mean log-probability per word, lowest first.
nlohmann::json report_with_worst(const RunEvaluation& e) {
  nlohmann::json j = eval_report_json(e);
  std::vector<const EvaluatedImage*> order;
  for (const auto& image : e.report.per_image) order.push_back(&image);
  const bool shapes = e.report.has_objects;
  std::stable_sort(order.begin(), order.end(), [shapes](const EvaluatedImage* a, const EvaluatedImage* b) {
    if (shapes && a->names_exactly != b->names_exactly) return !a->names_exactly;
    return a->mean_log_prob < b->mean_log_prob;
  });
  nlohmann::json worst = nlohmann::json::array();
  for (size_t i = 0; i < order.size() && i < kWorstKept; ++i) {
    const ImageRecord& record = e.dataset.images[static_cast<size_t>(order[i]->image)];
    nlohmann::json w = {{"file", e.dataset.image_root.empty() ? record.file : e.dataset.image_root + "/" + record.file},
                        {"caption", order[i]->caption},
                        {"mean_log_prob", order[i]->mean_log_prob},
                        {"reference", record.captions.empty() ? std::string() : join_tokens(record.captions.front())}};
    if (shapes) w["names_exactly"] = order[i]->names_exactly;
    worst.push_back(std::move(w));
  }
  j["worst"] = std::move(worst);
  return j;
}

}  // namespace

Evaluator::Evaluator(QObject* parent) : QObject(parent) {}

Evaluator::~Evaluator() {
  if (thread_) {
    cancel();
    thread_->wait();
    delete thread_;  // its finished() slot, queued to this object, will not run any more
  }
}

bool Evaluator::isRunning() const { return thread_ != nullptr; }

QString Evaluator::evaluationPath(const QString& run_dir) { return run_dir + QStringLiteral("/evaluation.json"); }

void Evaluator::cancel() {
  if (cancel_) *cancel_ = true;
}

bool Evaluator::start(const EvalJob& job) {
  if (thread_) return false;
  job_ = job;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  auto error = std::make_shared<QString>();
  thread_ = QThread::create([this, job, cancel = cancel_, error] {
    class Observer : public RunEvalObserver {
     public:
      explicit Observer(Evaluator& e) : e_(e) {}
      void on_message(const std::string& text) override { Q_EMIT e_.message(QString::fromStdString(text)); }
      void on_extraction(const ExtractProgress& p) override {
        Q_EMIT e_.progress(Evaluator::tr("Extracting features (ETA %1)").arg(QString::fromStdString(format_duration(p.eta_s))),
                           p.done, p.total);
      }
      void on_caption(int64_t done, int64_t total) override {
        if (done % 10 == 0 || done == total) Q_EMIT e_.progress(Evaluator::tr("Captioning"), done, total);
      }

     private:
      Evaluator& e_;
    } observer(*this);
    try {
      RunEvalRequest request;
      request.model = job.run_dir.toStdString();
      request.data = job.dataset.toStdString();
      request.images = job.image_dir.toStdString();
      if (!job.image_dir.isEmpty()) {  // the cache the run's training used (feature_cache_location.h)
        const RunSummary run = read_run_summary(job.run_dir.toStdString());
        const GridLayer layer = run.config.encoder_id.empty() ? GridLayer::Mixed10 : grid_layer_of(run.config.encoder_id);
        request.cache = shared_feature_cache(job.image_dir, layer).toStdString();
      }
      request.split = "test";
      request.val_without_test = true;  // data without a test split: the validation split
      request.decoding.max_len = 22;
      const RunEvaluation e = evaluate_run(request, &observer, cancel.get());
      write_file_atomically(evaluationPath(job.run_dir).toStdString(), report_with_worst(e).dump(2) + "\n");
    } catch (const std::exception& e) {
      *error = QString::fromStdString(e.what());
    }
  });
  thread_->setObjectName(QStringLiteral("evaluation"));
  // Finished is announced once the thread is gone, so a new evaluation can start from the slot.
  connect(thread_, &QThread::finished, this, [this, error] {
    thread_->deleteLater();
    thread_ = nullptr;
    cancel_.reset();
    Q_EMIT finished(job_.run_dir, error->isEmpty(), *error);
  });
  thread_->start();
  return true;
}

}  // namespace captioner::ui
