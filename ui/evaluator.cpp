#include "core/data/tokenizer.h"
#include "core/eval/run_evaluation.h"
#include "core/run/run_folder.h"
#include "core/util/atomic_file.h"
#include "core/util/duration.h"
#include "core/util/errors.h"

#include <nlohmann/json.hpp>

#include "ui/background.h"
#include "ui/evaluator.h"
#include "ui/feature_cache_location.h"

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
  if (!isRunning()) return;
  cancel();
  if (thread_) thread_->wait();  // its result, queued to this object, is then dropped with it
}

bool Evaluator::isRunning() const { return cancel_ != nullptr; }

QString Evaluator::evaluationPath(const QString& run_dir) {
  return QString::fromStdString(RunFolder(run_dir.toStdString()).evaluation());
}

void Evaluator::cancel() {
  if (cancel_) *cancel_ = true;
}

namespace {

// Progress of evaluate_run as the evaluator's signals (emitted on the job's thread, queued to the
// widgets).
class EvalProgress : public RunEvalObserver {
 public:
  explicit EvalProgress(Evaluator& e) : e_(e) {}
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
};

struct EvalOutcome {
  EvalEnd end = EvalEnd::Done;
  QString error;
};

}  // namespace

bool Evaluator::start(const EvalJob& job) {
  if (isRunning()) return false;
  job_ = job;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  RunEvalRequest request;
  request.model = job.run_dir.toStdString();
  request.data = job.dataset.toStdString();
  request.images = job.image_dir.toStdString();
  if (!job.image_dir.isEmpty())  // the cache the run's training used (feature_cache_location.h)
    request.cache_parent = shared_feature_cache_parent(job.image_dir).toStdString();
  request.split = "test";
  request.val_without_test = true;  // data without a test split: the validation split
  thread_ = run_off_gui_thread(
      this,
      [this, request, cancel = cancel_, report = evaluationPath(job.run_dir).toStdString()] {
        EvalOutcome out;
        try {
          EvalProgress progress(*this);
          const RunEvaluation e = evaluate_run(request, &progress, cancel.get());
          write_file_atomically(report, report_with_worst(e).dump(2) + "\n");
        } catch (const Cancelled&) {
          out.end = EvalEnd::Cancelled;
        } catch (const std::exception& e) {
          out.end = EvalEnd::Failed;
          out.error = QString::fromStdString(e.what());
        }
        return out;
      },
      // Announced once the work is done, so a new evaluation can start from the slot.
      [this](const EvalOutcome& out) {
        cancel_.reset();
        Q_EMIT finished(job_.run_dir, out.end, out.error);
      });
  return true;
}

}  // namespace captioner::ui
