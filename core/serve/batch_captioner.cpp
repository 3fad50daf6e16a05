#include "core/serve/batch_captioner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>

#include "core/infer/caption_pipeline.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/image_io.h"

namespace captioner {

namespace {

using Clock = std::chrono::steady_clock;

struct Job {
  const std::string* image = nullptr;  // the file's bytes, the caller's (it waits for the answer)
  std::string name;
  DecodeOptions decoding;
  BatchCaptioner::TextObserver on_text;
  Clock::time_point queued_at;
  std::promise<std::vector<CaptionResult>> promise;
  bool taken = false;  // by the model loop (under the mutex)
};

}  // namespace

struct BatchCaptioner::Impl {
  BatchOptions options;
  std::unique_ptr<CaptionPipeline> pipeline;

  std::mutex mutex;
  std::condition_variable queued;  // a job arrived, or stopping
  std::deque<std::shared_ptr<Job>> queue;
  int64_t pending = 0;  // queued or being captioned
  bool stopping = false;
  BatchStats stats;

  void caption_batch(std::vector<std::shared_ptr<Job>>& batch);
};

BatchCaptioner::BatchCaptioner(const std::string& model_path, const std::string& encoder_path, const BatchOptions& options)
    : impl_(std::make_unique<Impl>()) {
  if (options.max_batch < 1 || options.max_wait_ms < 0 || options.max_queue < 1 || options.timeout_ms < 1)
    throw ConfigError("batching: max batch, queue and timeout must be at least 1, the wait at least 0");
  Impl& m = *impl_;
  m.options = options;
  m.pipeline = std::make_unique<CaptionPipeline>(model_path, encoder_path, resolve_device(options.device),
                                                 /*with_encoder=*/true, options.precision);
}

BatchCaptioner::~BatchCaptioner() = default;

void BatchCaptioner::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->queued.notify_all();
}

bool BatchCaptioner::attends() const { return impl_->pipeline->attends(); }
std::string BatchCaptioner::checkpoint() const { return impl_->pipeline->checkpoint_file(); }

std::string BatchCaptioner::summary() const { return impl_->pipeline->summary(); }

BatchStats BatchCaptioner::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  BatchStats s = impl_->stats;
  s.pending = impl_->pending;
  return s;
}

std::vector<CaptionResult> BatchCaptioner::caption(const std::string& image_bytes, const std::string& name,
                                                   const DecodeOptions& options, const TextObserver& on_text) {
  Impl& m = *impl_;
  auto job = std::make_shared<Job>();
  job->image = &image_bytes;
  job->name = name;
  job->decoding = options;
  job->on_text = on_text;
  auto answer = job->promise.get_future();
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    if (m.pending >= m.options.max_queue)
      throw QueueFull("the server is busy: " + std::to_string(m.pending) + " images are waiting; try again shortly");
    ++m.pending;
    job->queued_at = Clock::now();
    m.queue.push_back(job);
  }
  m.queued.notify_all();
  if (answer.wait_for(std::chrono::milliseconds(m.options.timeout_ms)) != std::future_status::ready) {
    std::unique_lock<std::mutex> lock(m.mutex);
    if (!job->taken) {  // still queued: withdrawn
      m.queue.erase(std::find(m.queue.begin(), m.queue.end(), job));
      --m.pending;
      throw RequestTimeout("no caption within " + std::to_string(m.options.timeout_ms) + " ms; the server is overloaded");
    }
    // Being captioned: the image's bytes are in use, so the answer is awaited (one batch).
    lock.unlock();
  }
  return answer.get();
}

void BatchCaptioner::run() {
  Impl& m = *impl_;
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    {
      std::unique_lock<std::mutex> lock(m.mutex);
      m.queued.wait(lock, [&] { return m.stopping || !m.queue.empty(); });
      if (m.queue.empty()) return;  // stopping, and everything queued was answered
      const auto deadline = m.queue.front()->queued_at + std::chrono::milliseconds(m.options.max_wait_ms);
      m.queued.wait_until(lock, deadline, [&] { return m.stopping || static_cast<int>(m.queue.size()) >= m.options.max_batch; });
      while (!m.queue.empty() && static_cast<int>(batch.size()) < m.options.max_batch) {
        m.queue.front()->taken = true;
        batch.push_back(m.queue.front());
        m.queue.pop_front();
      }
    }
    if (batch.empty()) continue;
    const auto taken = static_cast<int64_t>(batch.size());
    m.caption_batch(batch);  // keeps the readable images
    {
      std::lock_guard<std::mutex> lock(m.mutex);
      m.pending -= taken;
      ++m.stats.batches;
      m.stats.images += static_cast<int64_t>(batch.size());
    }
  }
}

void BatchCaptioner::Impl::caption_batch(std::vector<std::shared_ptr<Job>>& batch) {
  // Images are decoded here rather than on the callers' threads: one full-size image in memory
  // at a time, and LibTorch's resize runs at full speed on this thread (see run()).
  std::vector<torch::Tensor> images;
  std::vector<std::shared_ptr<Job>> readable;
  for (auto& job : batch) {
    try {
      images.push_back(decode_image_rgb(*job->image, job->name, options.limits));
      readable.push_back(job);
    } catch (...) {
      job->promise.set_exception(std::current_exception());
    }
  }
  batch = std::move(readable);
  if (batch.empty()) return;
  try {
    const torch::Tensor features = pipeline->encode(images);
    images.clear();
    std::vector<DecodeOptions> decoding;
    decoding.reserve(batch.size());
    for (const auto& job : batch) decoding.push_back(job->decoding);
    const auto captions =
        pipeline->decode_rows(features, decoding, [&batch](size_t row, size_t choice, const DecodedCaption& so_far) {
          if (!batch[row]->on_text) return;
          const DecodedToken& last = so_far.tokens.back();
          if (last.id == Vocabulary::kEnd) return batch[row]->on_text(choice, so_far.text(), nullptr);
          const CaptionWord word = caption_word(last);
          batch[row]->on_text(choice, so_far.text(), &word);
        });
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->promise.set_value(caption_results(captions[i]));
  } catch (...) {
    for (auto& job : batch) job->promise.set_exception(std::current_exception());
  }
}

}  // namespace captioner
