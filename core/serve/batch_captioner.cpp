#include "core/serve/batch_captioner.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "core/infer/model_input.h"
#include "core/model/decoding.h"
#include "core/train/checkpoint.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"

namespace captioner {

namespace {

using Clock = std::chrono::steady_clock;

struct Job {
  torch::Tensor input;  // encoder input [3, 299, 299]
  CaptionRequest request;
  Clock::time_point queued_at;
  std::promise<std::vector<CaptionResult>> promise;
  std::atomic<bool> abandoned{false};  // its caller stopped waiting
};

}  // namespace

struct BatchCaptioner::Impl {
  BatchOptions options;
  torch::Device device = torch::kCPU;
  std::string checkpoint_file;
  std::unique_ptr<LoadedCheckpoint> checkpoint;
  Encoder encoder;

  std::mutex mutex;
  std::condition_variable queued;     // a job arrived, or stopping
  std::condition_variable slot_free;  // a decode slot was given back
  std::deque<std::shared_ptr<Job>> queue;
  int64_t pending = 0;  // queued, being decoded or being captioned
  int decoding = 0;
  bool stopping = false;
  BatchStats stats;
  std::thread model_thread;

  void run();
  void caption_batch(std::vector<std::shared_ptr<Job>>& batch);
};

BatchCaptioner::BatchCaptioner(const std::string& model_path, const std::string& encoder_path, const BatchOptions& options)
    : impl_(std::make_unique<Impl>()) {
  if (options.max_batch < 1 || options.max_wait_ms < 0 || options.max_queue < 1 || options.timeout_ms < 1)
    throw ConfigError("batching: max batch, queue and timeout must be at least 1, the wait at least 0");
  Impl& m = *impl_;
  m.options = options;
  m.device = resolve_device(options.device);
  m.checkpoint_file = std::filesystem::is_directory(model_path) ? checkpoint_path(model_path) : model_path;
  m.checkpoint = std::make_unique<LoadedCheckpoint>(load_checkpoint(m.checkpoint_file, m.device));
  m.encoder = load_encoder_for_model(m.checkpoint_file, m.checkpoint->config, encoder_path, m.device);
  m.model_thread = std::thread([&m] { m.run(); });
}

BatchCaptioner::~BatchCaptioner() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->queued.notify_all();
  impl_->model_thread.join();
}

bool BatchCaptioner::attends() const { return impl_->checkpoint->model->input() == FeatureInput::Grid; }
std::string BatchCaptioner::checkpoint() const { return impl_->checkpoint_file; }

std::string BatchCaptioner::summary() const {
  const auto& c = *impl_->checkpoint;
  return c.config.model.kind + " model, hidden " + std::to_string(c.config.model.hidden) + ", vocabulary " +
         std::to_string(c.vocab.size()) + ", step " + std::to_string(c.state.step);
}

BatchStats BatchCaptioner::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  BatchStats s = impl_->stats;
  s.pending = impl_->pending;
  return s;
}

std::vector<CaptionResult> BatchCaptioner::caption(const std::string& image_bytes, const std::string& name,
                                                   const CaptionRequest& request) {
  Impl& m = *impl_;
  decode_options(request);  // an unknown mode is refused here, not in the model thread
  auto job = std::make_shared<Job>();
  job->request = request;
  {
    std::unique_lock<std::mutex> lock(m.mutex);
    if (m.pending >= m.options.max_queue)
      throw QueueFull("the server is busy: " + std::to_string(m.pending) + " images are waiting; try again shortly");
    ++m.pending;
    m.slot_free.wait(lock, [&] { return m.decoding < kDecodeSlots; });
    ++m.decoding;
  }
  try {
    const auto rgb = decode_image_rgb(image_bytes, name, m.options.limits);
    job->input = inception_input(rgb);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(m.mutex);
      --m.decoding;
      --m.pending;
    }
    m.slot_free.notify_one();
    throw;
  }
  auto answer = job->promise.get_future();
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    --m.decoding;
    job->queued_at = Clock::now();
    m.queue.push_back(job);
  }
  m.slot_free.notify_one();
  m.queued.notify_all();
  if (answer.wait_for(std::chrono::milliseconds(m.options.timeout_ms)) != std::future_status::ready) {
    job->abandoned = true;  // the model thread drops it if it has not started on it
    throw RequestTimeout("no caption within " + std::to_string(m.options.timeout_ms) + " ms; the server is overloaded");
  }
  return answer.get();
}

void BatchCaptioner::Impl::run() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    {
      std::unique_lock<std::mutex> lock(mutex);
      queued.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and everything queued was answered
      const auto deadline = queue.front()->queued_at + std::chrono::milliseconds(options.max_wait_ms);
      queued.wait_until(lock, deadline,
                        [&] { return stopping || static_cast<int>(queue.size()) >= options.max_batch; });
      while (!queue.empty() && static_cast<int>(batch.size()) < options.max_batch) {
        if (!queue.front()->abandoned) batch.push_back(queue.front());
        else --pending;
        queue.pop_front();
      }
    }
    if (batch.empty()) continue;
    caption_batch(batch);
    {
      std::lock_guard<std::mutex> lock(mutex);
      pending -= static_cast<int64_t>(batch.size());
      ++stats.batches;
      stats.images += static_cast<int64_t>(batch.size());
    }
  }
}

void BatchCaptioner::Impl::caption_batch(std::vector<std::shared_ptr<Job>>& batch) {
  torch::NoGradGuard no_grad;
  auto& model = *checkpoint->model;
  torch::Tensor features;
  try {
    std::vector<torch::Tensor> inputs;
    for (const auto& job : batch) inputs.push_back(job->input);
    features = model_input(encoder.net->forward(torch::stack(inputs).to(device)), model.input());
  } catch (...) {
    for (auto& job : batch) job->promise.set_exception(std::current_exception());
    return;
  }
  // Greedy requests of the same length limit are decoded together, the others one by one.
  std::map<int, std::vector<size_t>> greedy;  // max_len -> jobs
  for (size_t i = 0; i < batch.size(); ++i) {
    Job& job = *batch[i];
    try {
      const DecodeOptions options = decode_options(job.request);
      if (options.mode == DecodeMode::Greedy) {
        greedy[options.max_len].push_back(i);
        continue;
      }
      std::vector<CaptionResult> results;
      for (const auto& c : decode(model, checkpoint->vocab, features.narrow(0, static_cast<int64_t>(i), 1), options))
        results.push_back(caption_result(c));
      job.promise.set_value(std::move(results));
    } catch (...) {
      job.promise.set_exception(std::current_exception());
    }
  }
  for (const auto& [max_len, jobs] : greedy) {
    try {
      std::vector<int64_t> rows(jobs.begin(), jobs.end());
      const auto captions = decode_greedy_batch(model, checkpoint->vocab,
                                                features.index_select(0, torch::tensor(rows).to(features.device())), max_len);
      for (size_t k = 0; k < jobs.size(); ++k) batch[jobs[k]]->promise.set_value({caption_result(captions[k])});
    } catch (...) {
      for (size_t i : jobs) batch[i]->promise.set_exception(std::current_exception());
    }
  }
}

}  // namespace captioner
